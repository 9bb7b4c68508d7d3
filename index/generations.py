"""Index generations on disk: the folder layout, locks, and writing and publishing a generation.

`index_dir/generations/<id>/` each hold one complete index (manifest.json, chunks.sqlite,
dense/, lexical/) and `index_dir/CURRENT` names the live one. A generation is written whole
under a `.partial` name, fsynced, renamed, and only then published by replacing CURRENT
atomically, so a crash at any moment leaves the previous index loadable. Writers are serialised
by an fcntl lock; readers hold a shared lock while loading so cleanup never deletes under them.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

import numpy as np

from index.dense import DenseIndex
from index.lexical import LexicalIndex
from index.manifest import (
    MANIFEST_FILE,
    REBUILD_HINT,
    DocumentEntry,
    Manifest,
    ManifestExpectation,
    file_sha256,
    manifest_json,
)
from index.prepare import PreparedDocument
from ragqa.errors import IndexStoreError

GENERATIONS_DIR = "generations"
CURRENT_FILE = "CURRENT"
CHUNKS_DB = "chunks.sqlite"
DENSE_DIR = "dense"
LEXICAL_DIR = "lexical"
_WRITE_LOCK = ".write.lock"  # held by a writer for its whole update
_CLEANUP_LOCK = ".cleanup.lock"  # shared by readers while loading, exclusive while deleting
_PARTIAL = ".partial"
_GENERATION_NAME = re.compile(r"^\d{6,}$")

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


# --- files and locks -------------------------------------------------------------------------


def fsync_path(path: Path) -> None:
    """Make a file's contents, or a rename or unlink in a directory, durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under `root` (and root) to disk before it is published."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        fsync_path(path)
    fsync_path(root)


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
def writing_lock(index_dir: Path) -> Iterator[None]:
    """Keep other processes from writing to this index folder until the update is done."""
    with _flock(index_dir / _WRITE_LOCK, fcntl.LOCK_EX):
        yield


@contextmanager
def reading_lock(index_dir: Path) -> Iterator[None]:
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


def read_current(index_dir: Path) -> str:
    """The name of the live generation, from CURRENT; IndexStoreError when there is none."""
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


def current_or_none(index_dir: Path) -> str | None:
    """The live generation, or None when there is none (or CURRENT is unreadable)."""
    try:
        return read_current(index_dir)
    except IndexStoreError:
        return None


def _write_current(index_dir: Path, generation: str) -> None:
    """Point CURRENT at `generation` atomically: temp file, fsync, rename, fsync the folder."""
    temporary = index_dir / f"{CURRENT_FILE}.tmp"
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(generation + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, index_dir / CURRENT_FILE)
    fsync_path(index_dir)


def _next_generation(generations: Path) -> str:
    numbers = [
        int(entry.name.removesuffix(_PARTIAL))
        for entry in generations.iterdir()
        if _GENERATION_NAME.match(entry.name.removesuffix(_PARTIAL))
    ]
    return f"{max(numbers, default=0) + 1:06d}"


def folder_bytes(folder: Path) -> int:
    """The size of every file under `folder`."""
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


# --- the chunk database ----------------------------------------------------------------------


def document_entries(conn: sqlite3.Connection) -> list[DocumentEntry]:
    """Every document of a chunk database with its chunk count, by doc_id."""
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


def _insert(
    conn: sqlite3.Connection, prepared: Sequence[PreparedDocument], ids: Iterator[int]
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


def _chunk_ids(conn: sqlite3.Connection) -> np.ndarray:
    return np.fromiter(
        (row[0] for row in conn.execute("SELECT id FROM chunks ORDER BY id")), np.int64
    )


def _chunk_tokens(conn: sqlite3.Connection) -> Iterator[list[str]]:
    """Every chunk's stored BM25 tokens, by id, one at a time, so BM25 is rebuilt without
    re-tokenising and without holding every chunk's tokens at once."""
    for (tokens,) in conn.execute("SELECT tokens FROM chunks ORDER BY id"):
        yield json.loads(tokens)


# --- writing and publishing ------------------------------------------------------------------


class GenerationWriter:
    """A generation being written: its chunk database filled batch by batch, then its indexes,
    its manifest, fsync, and publication through CURRENT (`publish`).

    The database starts from `base_dir`'s copy (None: an empty one, for a full build) and loses
    the `dropped` documents. Nothing is visible to readers until `publish`; a write that stops
    before it leaves a `.partial` folder the next cleanup deletes. The caller holds
    `writing_lock` throughout.
    """

    def __init__(self, index_dir: Path, *, base_dir: Path | None, dropped: Sequence[str]) -> None:
        self.index_dir = index_dir
        self.generations = index_dir / GENERATIONS_DIR
        self.generations.mkdir(exist_ok=True)
        self.generation = _next_generation(self.generations)
        self.partial = self.generations / f"{self.generation}{_PARTIAL}"
        self.partial.mkdir()
        self.database = self.partial / CHUNKS_DB
        if base_dir is None:
            with closing(sqlite3.connect(self.database)) as conn:
                conn.executescript(_SCHEMA)
        else:
            shutil.copyfile(base_dir / CHUNKS_DB, self.database)
        with closing(sqlite3.connect(self.database)) as conn, conn:
            rows = [(doc_id,) for doc_id in dropped]
            conn.executemany("DELETE FROM chunks WHERE doc_id = ?", rows)
            conn.executemany("DELETE FROM documents WHERE doc_id = ?", rows)

    def add(self, prepared: Sequence[PreparedDocument], new_ids: np.ndarray) -> None:
        """Store these documents and their chunks, numbered `new_ids` in order."""
        with closing(sqlite3.connect(self.database)) as conn, conn:
            _insert(conn, prepared, iter(new_ids.tolist()))

    def publish(
        self, dense: DenseIndex, *, expectation: ManifestExpectation, build_seconds: float | None
    ) -> str:
        """Save `dense` (holding exactly the database's chunk ids) and BM25 over the stored
        tokens, write the manifest, fsync, and make this the live generation; its name."""
        partial = self.partial
        with closing(sqlite3.connect(self.database)) as conn:
            entries = document_entries(conn)
            ids = _chunk_ids(conn)
            if not np.array_equal(ids, dense.ids):
                raise IndexStoreError(
                    f"{self.database}: chunk ids disagree with the dense index (a bug)"
                )
            dense.save(partial / DENSE_DIR)
            LexicalIndex.build(ids, _chunk_tokens(conn)).save(partial / LEXICAL_DIR)
        files = {
            path.relative_to(partial).as_posix(): file_sha256(path)
            for path in sorted(partial.rglob("*"))
            if path.is_file()
        }
        manifest = Manifest.new(
            expectation,
            faiss_factory=dense.factory,
            documents=entries,
            build_seconds=build_seconds,
            files=files,
        )
        (partial / MANIFEST_FILE).write_bytes(manifest_json(manifest))
        _fsync_tree(partial)
        os.rename(partial, self.generations / self.generation)
        fsync_path(self.generations)
        _write_current(self.index_dir, self.generation)
        return self.generation


def cleanup_generations(index_dir: Path, *, keep: set[str]) -> None:
    """Delete other generations (crashed writes, older ones) unless a reader is loading."""
    generations = index_dir / GENERATIONS_DIR
    with _flock(index_dir / _CLEANUP_LOCK, fcntl.LOCK_EX | fcntl.LOCK_NB) as locked:
        if not locked:
            return
        for entry in generations.iterdir():
            if entry.name not in keep:
                shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    (index_dir / f"{CURRENT_FILE}.tmp").unlink(missing_ok=True)
