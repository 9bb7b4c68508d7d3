"""The index on disk and in memory: crash-safe generations and immutable snapshots.

On disk, `index_dir/generations/<id>/` each hold one complete index (manifest.json,
chunks.sqlite, dense/, lexical/) and `index_dir/CURRENT` names the live one. An update writes a
whole new generation beside the live one (reusing unchanged rows and vectors), fsyncs it, and only
then replaces CURRENT atomically, so a crash at any moment leaves the previous index loadable.
Writers are serialised by an fcntl lock; older generations are deleted after a successful write,
keeping the previous one.

In memory, an `IndexSnapshot` never changes: an update loads a new snapshot and swaps the
reference, so a query already running keeps the snapshot it started with.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple, Protocol

import numpy as np

from index.chunking import chunk_document
from index.dense import DEFAULT_ANN_THRESHOLD, DenseIndex
from index.documents import Chunk, Document
from index.embedder import Embedder
from index.injection import flagged_in_range, flagged_sentences
from index.lexical import LexicalIndex
from index.manifest import (
    MANIFEST_FILE,
    REBUILD_HINT,
    ChunkingInfo,
    DocumentEntry,
    Manifest,
    ManifestExpectation,
    check_compatible,
    file_sha256,
    manifest_json,
    read_manifest,
)
from index.textnorm import index_tokens
from ragqa.errors import DocumentNotFound, IndexMismatch, IndexStoreError, ModelError

GENERATIONS_DIR = "generations"
CURRENT_FILE = "CURRENT"
CHUNKS_DB = "chunks.sqlite"
DENSE_DIR = "dense"
LEXICAL_DIR = "lexical"
_WRITE_LOCK = ".write.lock"  # held by a writer for its whole update
_CLEANUP_LOCK = ".cleanup.lock"  # shared by readers while loading, exclusive while deleting
_PARTIAL = ".partial"
_GENERATION_NAME = re.compile(r"^\d{6,}$")
_UNIT_NORM_TOLERANCE = 1e-3

_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    title TEXT NOT NULL,
    date TEXT NOT NULL,
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    language TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE chunks (
    id INTEGER PRIMARY KEY,
    chunk_id TEXT NOT NULL UNIQUE,
    doc_id TEXT NOT NULL REFERENCES documents(doc_id),
    n INTEGER NOT NULL,
    start_char INTEGER NOT NULL,
    end_char INTEGER NOT NULL,
    text TEXT NOT NULL,
    title TEXT NOT NULL,
    tokens TEXT NOT NULL
);
CREATE INDEX chunks_by_doc ON chunks(doc_id);
"""

log = logging.getLogger(__name__)


def passage_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see for a chunk: its title gives a passage its context.

    `chunk.text` itself stays the exact slice of the document, for citations.
    """
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


class Hit(NamedTuple):
    """A retrieved chunk: its integer id in the snapshot, and the retriever's score."""

    id: int
    score: float


class ProgressSink(Protocol):
    """Receives progress of the long stages (tasks "chunking", "embedding", "writing")."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, amount: int = 1) -> None: ...


class NoProgress:
    """The progress sink of library and service calls: nothing is shown."""

    def start(self, task: str, total: int) -> None:
        """Progress is not shown."""

    def advance(self, task: str, amount: int = 1) -> None:
        """Progress is not shown."""


@dataclass(frozen=True)
class Failure:
    """A document that was not indexed, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class UpdateReport:
    """What one write did. `generation` is the live generation afterwards."""

    generation: str
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    failures: tuple[Failure, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class IndexStats:
    index_dir: Path
    generation: str
    n_documents: int
    n_chunks: int
    languages: tuple[str, ...]
    embedder_id: str
    embedder_fingerprint: str
    dimension: int
    faiss_factory: str
    chunk_size: int
    chunk_overlap: int
    generation_bytes: int  # the live generation
    disk_bytes: int  # the whole index folder, the kept previous generation included
    created_at: datetime
    build_seconds: float | None


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

    def dense_search(self, query_vectors: np.ndarray, k: int) -> list[list[Hit]]:
        """Nearest chunks by cosine, one ranked list per query vector."""
        scores, ids = self.dense.search(np.atleast_2d(query_vectors), k)
        return [
            [Hit(int(i), float(s)) for s, i in zip(row_scores, row_ids, strict=True)]
            for row_scores, row_ids in zip(scores, ids, strict=True)
        ]

    def lexical_search(self, query_text: str, k: int) -> list[Hit]:
        """Chunks sharing words with the query (either Chinese script, any case), by BM25."""
        return _hits(*self.lexical.search(query_text, k))

    def lexical_search_tokens(self, tokens: Sequence[str], k: int) -> list[Hit]:
        """As `lexical_search`, for query tokens made some other way (a translation's words
        with the sound of the question's names)."""
        return _hits(*self.lexical.search_tokens(tokens, k))


def _hits(scores: np.ndarray, ids: np.ndarray) -> list[Hit]:
    return [Hit(int(i), float(s)) for s, i in zip(scores, ids, strict=True)]


# --- files and locks -------------------------------------------------------------------------


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` (and root) to disk before it is published."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        _fsync_path(path)
    _fsync_path(root)


@contextmanager
def _flock(path: Path, operation: int) -> Iterator[bool]:
    """Hold an fcntl lock on `path`; yields False when LOCK_NB was asked and it is taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


@contextmanager
def _reading_lock(index_dir: Path) -> Iterator[None]:
    """Keep writers from deleting generations while one is being loaded."""
    try:
        fd = os.open(index_dir / _CLEANUP_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # a read-only or missing folder: nothing deletes generations there
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _read_current(index_dir: Path) -> str:
    path = index_dir / CURRENT_FILE
    try:
        name = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise IndexStoreError(
            f"{index_dir}: no index here (no {CURRENT_FILE} file); build one with "
            "`ragqa index build`"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IndexStoreError(f"{path}: cannot read ({exc}); {REBUILD_HINT}") from exc
    if not _GENERATION_NAME.match(name):
        raise IndexStoreError(f"{path}: {name!r} is not a generation name; {REBUILD_HINT}")
    return name


def _write_current(index_dir: Path, generation: str) -> None:
    """Point CURRENT at `generation` atomically: temp file, fsync, rename, fsync the folder."""
    temporary = index_dir / f"{CURRENT_FILE}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(generation + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / CURRENT_FILE)
    _fsync_path(index_dir)


def _next_generation(generations: Path) -> str:
    numbers = [
        int(entry.name.removesuffix(_PARTIAL))
        for entry in generations.iterdir()
        if _GENERATION_NAME.match(entry.name.removesuffix(_PARTIAL))
    ]
    return f"{max(numbers, default=0) + 1:06d}"


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


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


def _document_entries(conn: sqlite3.Connection) -> list[DocumentEntry]:
    counts = dict(conn.execute("SELECT doc_id, count(*) FROM chunks GROUP BY doc_id"))
    return [
        DocumentEntry(
            doc_id=doc_id,
            content_hash=content_hash,
            title=title,
            date=date,
            source=source,
            url=url,
            language=language,
            n_chunks=counts.get(doc_id, 0),
        )
        for doc_id, content_hash, title, date, source, url, language in conn.execute(
            "SELECT doc_id, content_hash, title, date, source, url, language "
            "FROM documents ORDER BY doc_id"
        )
    ]


def _read_database(
    path: Path,
) -> tuple[dict[int, Chunk], dict[str, DocumentEntry], dict[str, str]]:
    try:
        with closing(_connect_read_only(path)) as conn:
            (check,) = conn.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise IndexStoreError(f"{path}: SQLite integrity check failed: {check}")
            documents = {entry.doc_id: entry for entry in _document_entries(conn)}
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


def _load_generation(index_dir: Path, generation: str) -> IndexSnapshot:
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


def _load_current(index_dir: Path) -> IndexSnapshot:
    with _reading_lock(index_dir):
        return _load_generation(index_dir, _read_current(index_dir))


# --- writing ---------------------------------------------------------------------------------


@dataclass
class _PreparedDocument:
    doc: Document
    chunks: list[Chunk]
    tokens: list[list[str]]  # BM25 words of each chunk


def _embed(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    dimension: int,
    batch_size: int,
    progress: ProgressSink,
) -> np.ndarray:
    """Embed in batches, checking the embedder keeps its contract (shape, unit length).

    Batches are made of texts of similar length (longest first, as sentence-transformers
    orders one call), so little of each batch is padding.
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    progress.start("embedding", len(texts))
    for begin in range(0, len(order), batch_size):
        batch = order[begin : begin + batch_size]
        vectors = np.asarray(embedder.embed_documents([texts[i] for i in batch]), dtype=np.float32)
        if vectors.shape != (len(batch), dimension):
            raise IndexMismatch(
                f"embedder {embedder.model_id} returned vectors of shape {vectors.shape} for "
                f"{len(batch)} texts; the index expects dimension {dimension}"
            )
        if not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=_UNIT_NORM_TOLERANCE):
            raise ModelError(f"embedder {embedder.model_id} returned vectors not of unit length")
        out[batch] = vectors
        progress.advance("embedding", len(batch))
    return out


def _insert(
    conn: sqlite3.Connection, prepared: list[_PreparedDocument], ids: Iterator[int]
) -> None:
    for item in prepared:
        doc, meta = item.doc, item.doc.meta
        conn.execute(
            "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.doc_id,
                doc.content_hash,
                meta.title,
                meta.date,
                meta.source,
                meta.url,
                doc.language,
                doc.text,
            ),
        )
        conn.executemany(
            "INSERT INTO chunks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    next(ids),
                    c.chunk_id,
                    c.doc_id,
                    c.n,
                    c.start,
                    c.end,
                    c.text,
                    c.title,
                    json.dumps(tokens, ensure_ascii=False),
                )
                for c, tokens in zip(item.chunks, item.tokens, strict=True)
            ],
        )


def _chunk_tokens(conn: sqlite3.Connection) -> tuple[np.ndarray, list[list[str]]]:
    """Every chunk's id and stored BM25 tokens, by id, so BM25 is rebuilt without re-tokenising."""
    rows = conn.execute("SELECT id, tokens FROM chunks ORDER BY id").fetchall()
    return np.array([row[0] for row in rows], dtype=np.int64), [json.loads(r[1]) for r in rows]


class IndexStore:
    """An index folder: the live snapshot, and the only way to change what is indexed."""

    def __init__(
        self,
        index_dir: Path,
        snapshot: IndexSnapshot,
        *,
        expected: ManifestExpectation | None,
        ann_threshold: int,
    ) -> None:
        self.index_dir = index_dir
        self.expected = expected
        self.ann_threshold = ann_threshold
        self._snapshot = snapshot
        self._swap_lock = threading.Lock()
        self._write_lock = threading.Lock()

    # --- opening ---------------------------------------------------------------------------

    @staticmethod
    def exists(index_dir: Path) -> bool:
        return (index_dir / CURRENT_FILE).exists()

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        expected: ManifestExpectation | None,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> IndexStore:
        """Load the live generation; `expected=None` opens it for inspection and removals only.

        Raises IndexStoreError when files are missing or damaged, IndexMismatch when the index
        was built with other settings than `expected`.
        """
        snapshot = _load_current(index_dir)
        if expected is not None:
            check_compatible(snapshot.manifest, expected, where=index_dir)
        return cls(index_dir, snapshot, expected=expected, ann_threshold=ann_threshold)

    @classmethod
    def create_empty(
        cls,
        index_dir: Path,
        *,
        expected: ManifestExpectation,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> IndexStore:
        """Start an index with no documents; refuses a folder that already holds one."""
        if cls.exists(index_dir):
            raise IndexStoreError(
                f"{index_dir}: already holds an index; open it, or rebuild with `ragqa index build`"
            )
        store, _ = cls.build(index_dir, [], None, expected=expected, ann_threshold=ann_threshold)
        return store

    @classmethod
    def build(
        cls,
        index_dir: Path,
        docs: Sequence[Document],
        embedder: Embedder | None,
        *,
        expected: ManifestExpectation,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
        started: float | None = None,
    ) -> tuple[IndexStore, UpdateReport]:
        """Index `docs` from scratch into a new generation, whatever the folder held before.

        `started` (a `time.perf_counter()` reading) lets the caller's loading time count in
        the build seconds recorded in the manifest.
        """
        started = time.perf_counter() if started is None else started
        index_dir.mkdir(parents=True, exist_ok=True)
        store = cls(
            index_dir, _empty_snapshot(expected), expected=expected, ann_threshold=ann_threshold
        )
        report = store._update(
            docs,
            embedder,
            (),
            batch_size=batch_size,
            progress=progress or NoProgress(),
            started=started,
            full_build=True,
        )
        return store, report

    # --- reading ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> IndexSnapshot:
        with self._swap_lock:
            return self._snapshot

    def _swap(self, snapshot: IndexSnapshot) -> None:
        with self._swap_lock:
            self._snapshot = snapshot

    def refresh(self) -> bool:
        """Load the live generation if another process changed it; True when it did."""
        if _read_current(self.index_dir) == self.snapshot.generation:
            return False
        snapshot = _load_current(self.index_dir)
        if self.expected is not None:
            check_compatible(snapshot.manifest, self.expected, where=self.index_dir)
        self._swap(snapshot)
        return True

    def stats(self) -> IndexStats:
        snapshot = self.snapshot
        manifest = snapshot.manifest
        return IndexStats(
            index_dir=self.index_dir,
            generation=snapshot.generation,
            n_documents=manifest.n_documents,
            n_chunks=manifest.n_chunks,
            languages=tuple(sorted(snapshot.languages)),
            embedder_id=manifest.embedder.model_id,
            embedder_fingerprint=manifest.embedder.fingerprint,
            dimension=manifest.embedder.dimension,
            faiss_factory=manifest.faiss_factory,
            chunk_size=manifest.chunking.chunk_size,
            chunk_overlap=manifest.chunking.chunk_overlap,
            generation_bytes=_folder_bytes(snapshot.directory),
            disk_bytes=_folder_bytes(self.index_dir),
            created_at=manifest.created_at,
            build_seconds=manifest.build_seconds,
        )

    # --- writing ---------------------------------------------------------------------------

    def add_documents(
        self,
        docs: Sequence[Document],
        embedder: Embedder,
        *,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
    ) -> UpdateReport:
        """Index new and changed documents; unchanged ones (same content hash) are skipped.

        A changed document's old chunks are replaced. Documents that yield no chunk, or that
        appear twice in `docs`, are reported as failures; the rest still go in.
        """
        return self._update(
            docs,
            embedder,
            (),
            batch_size=batch_size,
            progress=progress or NoProgress(),
            started=time.perf_counter(),
            full_build=False,
        )

    def remove_documents(self, doc_ids: Sequence[str]) -> UpdateReport:
        """Remove documents by id; an unknown id raises DocumentNotFound and changes nothing."""
        return self._update(
            (),
            None,
            doc_ids,
            batch_size=1,
            progress=NoProgress(),
            started=time.perf_counter(),
            full_build=False,
        )

    @contextmanager
    def _writer(self) -> Iterator[None]:
        with self._write_lock, _flock(self.index_dir / _WRITE_LOCK, fcntl.LOCK_EX):
            yield

    def _latest_base(self) -> IndexSnapshot:
        """The live generation on disk, which another process may have moved past ours."""
        self.refresh()
        return self.snapshot

    def _update(
        self,
        docs: Sequence[Document],
        embedder: Embedder | None,
        remove_ids: Sequence[str],
        *,
        batch_size: int,
        progress: ProgressSink,
        started: float,
        full_build: bool,
    ) -> UpdateReport:
        with self._writer():
            previous = _current_or_none(self.index_dir)
            base = _empty_snapshot(self.expected) if full_build else self._latest_base()
            unknown = sorted(set(remove_ids) - set(base.documents))
            if unknown:
                raise DocumentNotFound(unknown[0])
            plan = _plan(docs, base)
            prepared: list[_PreparedDocument] = []
            if plan.to_index:
                if embedder is None or self.expected is None:
                    raise IndexStoreError(
                        f"{self.index_dir}: adding documents needs the configured embedder "
                        "and settings (this index was opened for inspection only)"
                    )
                prepared = _prepare(plan.to_index, embedder, self.expected.chunking, progress)
            failures = plan.failures + [
                Failure(item.doc.doc_id, "no text to index") for item in prepared if not item.chunks
            ]
            prepared = [item for item in prepared if item.chunks]
            indexed = {item.doc.doc_id for item in prepared}
            replaced = sorted(indexed & set(base.documents))
            dropped = set(remove_ids) | set(replaced)
            if not (full_build or prepared or dropped):
                return UpdateReport(
                    generation=base.generation,
                    unchanged=tuple(plan.unchanged),
                    failures=tuple(failures),
                    seconds=time.perf_counter() - started,
                )
            dimension = base.manifest.embedder.dimension
            texts = [passage_text(chunk) for item in prepared for chunk in item.chunks]
            vectors = (
                _embed(
                    texts, embedder, dimension=dimension, batch_size=batch_size, progress=progress
                )
                if embedder is not None
                else np.zeros((0, dimension), dtype=np.float32)
            )
            first_id = int(base.chunk_ids().max(initial=-1)) + 1
            new_ids = np.arange(first_id, first_id + len(vectors), dtype=np.int64)
            dropped_chunk_ids = base.chunk_ids_of(dropped)
            dense = base.dense.updated(
                remove_ids=dropped_chunk_ids,
                add_ids=new_ids,
                add_vectors=vectors,
                ann_threshold=self.ann_threshold,
            )
            progress.start("writing", 1)
            generation = self._write_generation(
                base,
                sorted(dropped),
                prepared,
                new_ids,
                dense,
                full_build=full_build,
                build_seconds=time.perf_counter() - started,
            )
            progress.advance("writing")
            self._swap(_load_current(self.index_dir))
            self._cleanup(keep={generation} | ({previous} if previous else set()))
        return UpdateReport(
            generation=generation,
            added=tuple(sorted(indexed - set(replaced))),
            replaced=tuple(replaced),
            unchanged=tuple(plan.unchanged),
            removed=tuple(sorted(set(remove_ids))),
            chunks_added=len(new_ids),
            chunks_removed=len(dropped_chunk_ids),
            failures=tuple(failures),
            seconds=time.perf_counter() - started,
        )

    def _write_generation(
        self,
        base: IndexSnapshot,
        dropped: list[str],
        prepared: list[_PreparedDocument],
        new_ids: np.ndarray,
        dense: DenseIndex,
        *,
        full_build: bool,
        build_seconds: float | None,
    ) -> str:
        """Write a complete generation, fsync it, then publish it through CURRENT."""
        generations = self.index_dir / GENERATIONS_DIR
        generations.mkdir(exist_ok=True)
        generation = _next_generation(generations)
        partial = generations / f"{generation}{_PARTIAL}"
        partial.mkdir()
        database = partial / CHUNKS_DB
        if full_build:
            with closing(sqlite3.connect(database)) as conn:
                conn.executescript(_SCHEMA)
        else:
            shutil.copyfile(base.directory / CHUNKS_DB, database)
        with closing(sqlite3.connect(database)) as conn:
            with conn:
                conn.executemany(
                    "DELETE FROM chunks WHERE doc_id = ?", [(doc_id,) for doc_id in dropped]
                )
                conn.executemany(
                    "DELETE FROM documents WHERE doc_id = ?", [(doc_id,) for doc_id in dropped]
                )
                _insert(conn, prepared, iter(new_ids.tolist()))
            entries = _document_entries(conn)
            ids, tokens = _chunk_tokens(conn)
        if not np.array_equal(ids, dense.ids):
            raise IndexStoreError(f"{database}: chunk ids disagree with the dense index (a bug)")
        dense.save(partial / DENSE_DIR)
        LexicalIndex.build(ids, tokens).save(partial / LEXICAL_DIR)
        files = {
            path.relative_to(partial).as_posix(): file_sha256(path)
            for path in sorted(partial.rglob("*"))
            if path.is_file()
        }
        manifest = Manifest.new(
            self._expectation(base),
            faiss_factory=dense.factory,
            documents=entries,
            build_seconds=build_seconds if full_build else base.manifest.build_seconds,
            files=files,
        )
        (partial / MANIFEST_FILE).write_bytes(manifest_json(manifest))
        _fsync_tree(partial)
        os.rename(partial, generations / generation)
        _fsync_path(generations)
        _write_current(self.index_dir, generation)
        return generation

    def _expectation(self, base: IndexSnapshot) -> ManifestExpectation:
        """The settings a new generation records: the configured ones, else the base's own."""
        if self.expected is not None:
            return self.expected
        manifest = base.manifest
        return ManifestExpectation(
            format_version=manifest.format_version,
            embedder=manifest.embedder,
            chunking=manifest.chunking,
            lexical=manifest.lexical,
        )

    def _cleanup(self, *, keep: set[str]) -> None:
        """Delete other generations (crashed writes, older ones) unless a reader is loading."""
        generations = self.index_dir / GENERATIONS_DIR
        with _flock(self.index_dir / _CLEANUP_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB) as locked:
            if not locked:
                return
            for entry in generations.iterdir():
                if entry.name not in keep:
                    shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        (self.index_dir / f"{CURRENT_FILE}.tmp").unlink(missing_ok=True)


def _prepare(
    docs: list[Document], embedder: Embedder, chunking: ChunkingInfo, progress: ProgressSink
) -> list[_PreparedDocument]:
    """Chunk with the embedder's tokenizer and tokenise for BM25, one document at a time."""
    progress.start("chunking", len(docs))
    prepared = []
    for doc in docs:
        chunks = chunk_document(
            doc,
            max_tokens=chunking.chunk_size,
            overlap_sentences=chunking.chunk_overlap,
            count_tokens=embedder.count_tokens,
        )
        flagged = {sentence for chunk in chunks for sentence in chunk.flagged}
        if flagged:
            log.warning(
                "%s: %d sentence(s) read as instructions to an assistant; they stay searchable "
                "but are kept out of every prompt",
                doc.doc_id,
                len(flagged),
            )
        prepared.append(
            _PreparedDocument(doc, chunks, [index_tokens(passage_text(c)) for c in chunks])
        )
        progress.advance("chunking")
    return prepared


def _current_or_none(index_dir: Path) -> str | None:
    """The live generation, or None when there is none (or CURRENT is unreadable)."""
    try:
        return _read_current(index_dir)
    except IndexStoreError:
        return None


@dataclass
class _Plan:
    to_index: list[Document]
    unchanged: list[str]
    failures: list[Failure]


def _plan(docs: Sequence[Document], base: IndexSnapshot) -> _Plan:
    """Split `docs` into those to (re)index, unchanged ones, and duplicates within the batch."""
    plan = _Plan([], [], [])
    seen: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen:
            plan.failures.append(Failure(doc.doc_id, "given twice in one update"))
            continue
        seen.add(doc.doc_id)
        known = base.documents.get(doc.doc_id)
        if known is not None and known.content_hash == doc.content_hash:
            plan.unchanged.append(doc.doc_id)
        else:
            plan.to_index.append(doc)
    return plan


def _empty_snapshot(expected: ManifestExpectation | None) -> IndexSnapshot:
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
