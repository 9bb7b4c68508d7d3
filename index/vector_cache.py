"""Vectors an unfinished write already computed, so running it again embeds only the rest.

Embedding is most of an index build's time. Each batch's vectors are committed to a SQLite file
in the index folder as they come, keyed by the passage text and the embedder's fingerprint; a
build that crashes or is interrupted resumes from there, and a write that succeeds deletes the
file. The cache only saves work: one that cannot be read is started afresh.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from index.cache_db import connect_or_reset, rows_for_keys

CACHE_FILE = "build-vectors.sqlite3"


def passage_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class VectorCache:
    """Passage vectors of one embedder, committed batch by batch."""

    def __init__(self, path: Path, *, embedder: str, dimension: int) -> None:
        self.path = path
        self.dimension = dimension
        self._conn = self._open(embedder)

    def _open(self, embedder: str) -> sqlite3.Connection:
        identity = f"{embedder}:{self.dimension}"

        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'embedder'").fetchone()
            if row is not None and row[0] != identity:
                conn.execute("DELETE FROM vectors")  # another embedder's: useless here
            conn.execute("INSERT OR REPLACE INTO meta VALUES ('embedder', ?)", (identity,))

        return connect_or_reset(self.path, setup)

    def __len__(self) -> int:
        return int(self._conn.execute("SELECT count(*) FROM vectors").fetchone()[0])

    def get_many(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        wanted = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        for key, blob in rows_for_keys(self._conn, "vectors", "vector", wanted):
            vector = np.frombuffer(blob, dtype=np.float32)
            if vector.shape == (self.dimension,):
                found[key] = vector
        return found

    def put_many(self, items: Mapping[str, np.ndarray]) -> None:
        self._conn.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?, ?)",
            [(key, np.asarray(v, dtype=np.float32).tobytes()) for key, v in items.items()],
        )
        self._conn.commit()

    def close(self) -> None:
        self._conn.close()

    def discard(self) -> None:
        """The write succeeded: the vectors are in the index now."""
        self.close()
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)


def split_cached(
    texts: Sequence[str], cache: VectorCache | None
) -> tuple[dict[int, np.ndarray], list[int]]:
    """(row -> cached vector, rows still to embed) for `texts`."""
    if cache is None:
        return {}, list(range(len(texts)))
    keys = [passage_key(t) for t in texts]
    cached = cache.get_many(keys)
    hits = {i: cached[k] for i, k in enumerate(keys) if k in cached}
    return hits, [i for i in range(len(texts)) if i not in hits]
