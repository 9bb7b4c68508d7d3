"""Read snapshots: one index generation loaded in memory, never modified, searched by the service.

An update loads a new snapshot and swaps the reference (`IndexStore`), so a query already
running keeps the snapshot it started with and readers need no lock. Loading checks every file
against the generation's manifest and the three stores (SQLite, dense, lexical) against each
other, so a damaged index is refused rather than served.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from contextlib import closing
from pathlib import Path
from types import MappingProxyType

import numpy as np

from index.backend import Hit, SearchFilter
from index.dense import DenseIndex
from index.documents import Chunk
from index.generations import (
    CHUNKS_DB,
    CURRENT_FILE,
    DENSE_DIR,
    GENERATIONS_DIR,
    LEXICAL_DIR,
    document_entries,
    read_current,
    reading_lock,
)
from index.injection import flagged_in_range, flagged_sentences
from index.lexical import LexicalIndex
from index.manifest import (
    MANIFEST_FILE,
    REBUILD_HINT,
    DocumentEntry,
    Manifest,
    ManifestExpectation,
    file_sha256,
    read_manifest,
)
from ragqa.errors import DocumentNotFound, IndexStoreError

FILTER_OVERFETCH = 8  # candidates searched per hit wanted when a filter drops some


class IndexSnapshot:
    """One generation loaded in memory; never modified, so readers need no lock."""

    def __init__(
        self,
        *,
        generation: str,
        directory: Path,
        manifest: Manifest,
        dense: DenseIndex,
        lexical: LexicalIndex,
        chunks: dict[int, Chunk],
        documents: dict[str, DocumentEntry],
        texts: dict[str, str],
    ) -> None:
        self.generation = generation
        self.directory = directory
        self.manifest = manifest
        self.dense = dense
        self.lexical = lexical
        self._chunks = chunks
        self._texts = texts
        self.documents: Mapping[str, DocumentEntry] = MappingProxyType(documents)
        self.languages = frozenset(entry.language for entry in documents.values())

    def __len__(self) -> int:
        return len(self._chunks)

    def chunk(self, chunk_id: int) -> Chunk:
        return self._chunks[chunk_id]

    def chunk_ids(self) -> np.ndarray:
        """Every integer chunk id, ascending."""
        return self.dense.ids

    def chunk_ids_of(self, doc_ids: set[str]) -> np.ndarray:
        """The integer ids of every chunk of these documents, ascending."""
        return np.array(
            [i for i, chunk in self._chunks.items() if chunk.doc_id in doc_ids], dtype=np.int64
        )

    def document_text(self, doc_id: str) -> str:
        try:
            return self._texts[doc_id]
        except KeyError:
            raise DocumentNotFound(doc_id) from None

    def _fetch(self, k: int, where: SearchFilter | None) -> int:
        """How many to search for k hits: filters are applied to the results, so over-fetch."""
        return k if where is None else max(k, min(len(self), k * FILTER_OVERFETCH))

    def _admitted(self, hits: list[Hit], k: int, where: SearchFilter | None) -> list[Hit]:
        if where is None:
            return hits
        documents = self.documents
        return [h for h in hits if where.admits(documents[self._chunks[h.id].doc_id])][:k]

    def dense_search(
        self, query_vectors: np.ndarray, k: int, where: SearchFilter | None = None
    ) -> list[list[Hit]]:
        """Nearest chunks by cosine, one ranked list of up to k per query vector."""
        scores, ids = self.dense.search(np.atleast_2d(query_vectors), self._fetch(k, where))
        return [
            self._admitted(
                [Hit(int(i), float(s)) for s, i in zip(row_scores, row_ids, strict=True)], k, where
            )
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]

    def lexical_search(self, query_text: str, k: int) -> list[Hit]:
        """Chunks sharing words with the query (either Chinese script, any case), by BM25."""
        return _hits(*self.lexical.search(query_text, k))

    def lexical_search_tokens(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None = None
    ) -> list[Hit]:
        """As `lexical_search`, for query tokens made some other way (a translation's words
        with the sound of the question's names)."""
        hits = _hits(*self.lexical.search_tokens(tokens, self._fetch(k, where)))
        return self._admitted(hits, k, where)


def _hits(scores: np.ndarray, ids: np.ndarray) -> list[Hit]:
    return [Hit(int(i), float(s)) for s, i in zip(scores, ids, strict=True)]


def empty_snapshot(expected: ManifestExpectation | None) -> IndexSnapshot:
    """The base of a full build: nothing indexed yet."""
    if expected is None:
        raise IndexStoreError("a full build needs the configured settings (expected manifest)")
    dimension = expected.embedder.dimension
    empty_ids = np.zeros(0, dtype=np.int64)
    dense = DenseIndex.build(
        empty_ids, np.zeros((0, dimension), dtype=np.float32), dimension=dimension
    )
    manifest = Manifest.new(
        expected, faiss_factory=dense.factory, documents=[], build_seconds=None, files={}
    )
    return IndexSnapshot(
        generation="",
        directory=Path(),
        manifest=manifest,
        dense=dense,
        lexical=LexicalIndex.build(empty_ids, []),
        chunks={},
        documents={},
        texts={},
    )


# --- loading ---------------------------------------------------------------------------------


def _verify_files(directory: Path, manifest: Manifest) -> None:
    for relative, expected_sha in manifest.files.items():
        path = directory / relative
        if not path.is_file():
            raise IndexStoreError(f"{path}: missing from the index; {REBUILD_HINT}")
        if file_sha256(path) != expected_sha:
            raise IndexStoreError(
                f"{path}: damaged (its SHA-256 differs from the manifest); {REBUILD_HINT}"
            )


def _connect_read_only(path: Path) -> sqlite3.Connection:
    if not path.is_file():
        raise IndexStoreError(f"{path}: missing from the index; {REBUILD_HINT}")
    return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)


def _read_database(
    path: Path,
) -> tuple[dict[int, Chunk], dict[str, DocumentEntry], dict[str, str]]:
    try:
        with closing(_connect_read_only(path)) as conn:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise IndexStoreError(f"{path}: SQLite integrity check failed: {check}")
            documents = {entry.doc_id: entry for entry in document_entries(conn)}
            texts = dict(conn.execute("SELECT doc_id, text FROM documents"))
            chunks = {
                row[0]: Chunk(
                    chunk_id=row[1],
                    doc_id=row[2],
                    n=row[3],
                    start=row[4],
                    end=row[5],
                    text=row[6],
                    title=row[7],
                    flagged=flagged_in_range(texts.get(row[2], row[6]), row[4], row[5])
                    if row[2] in texts
                    else flagged_sentences(row[6]),
                )
                for row in conn.execute(
                    "SELECT id, chunk_id, doc_id, n, start_char, end_char, text, title "
                    "FROM chunks ORDER BY id"
                )
            }
    except sqlite3.Error as exc:
        raise IndexStoreError(
            f"{path}: not a readable index database ({exc}); {REBUILD_HINT}"
        ) from exc
    return chunks, documents, texts


def load_generation(index_dir: Path, generation: str) -> IndexSnapshot:
    """Load one generation, checking every file against the manifest and each other."""
    directory = index_dir / GENERATIONS_DIR / generation
    if not directory.is_dir():
        raise IndexStoreError(
            f"{directory}: generation named by {index_dir / CURRENT_FILE} is missing; "
            f"{REBUILD_HINT}"
        )
    manifest = read_manifest(directory / MANIFEST_FILE)
    _verify_files(directory, manifest)
    chunks, documents, texts = _read_database(directory / CHUNKS_DB)
    dense = DenseIndex.load(directory / DENSE_DIR, factory=manifest.faiss_factory)
    lexical = LexicalIndex.load(directory / LEXICAL_DIR)
    chunk_ids = np.fromiter(chunks, dtype=np.int64, count=len(chunks))
    if not (np.array_equal(chunk_ids, dense.ids) and np.array_equal(chunk_ids, lexical.ids)):
        raise IndexStoreError(
            f"{directory}: the chunk ids of {CHUNKS_DB}, {DENSE_DIR}/ and {LEXICAL_DIR}/ "
            f"disagree; {REBUILD_HINT}"
        )
    if list(documents.values()) != sorted(manifest.documents, key=lambda entry: entry.doc_id):
        raise IndexStoreError(
            f"{directory / MANIFEST_FILE}: its document list disagrees with {CHUNKS_DB}; "
            f"{REBUILD_HINT}"
        )
    return IndexSnapshot(
        generation=generation,
        directory=directory,
        manifest=manifest,
        dense=dense,
        lexical=lexical,
        chunks=chunks,
        documents=documents,
        texts=texts,
    )


def load_current(index_dir: Path) -> IndexSnapshot:
    """Load the live generation, holding off cleanup while its files are read."""
    with reading_lock(index_dir):
        return load_generation(index_dir, read_current(index_dir))
