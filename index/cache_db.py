"""SQLite files that only save work (build vectors, translations): opened afresh when
unreadable, and read by key in batches that stay under SQLite's variable limit."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_BATCH = 500  # keys per query: under SQLite's default limit of 999 variables


def connect_or_reset(path: Path, setup: Callable[[sqlite3.Connection], None]) -> sqlite3.Connection:
    """A connection to `path` after `setup` (tables, checks); a file SQLite cannot read is
    deleted and started again, since what it held can be made again."""
    for attempt in range(2):
        try:
            conn = sqlite3.connect(path, check_same_thread=False)
            setup(conn)
            conn.commit()
            return conn
        except sqlite3.DatabaseError as exc:
            if attempt:
                raise
            log.warning("%s: unreadable (%s); starting a new one", path, exc)
            path.unlink(missing_ok=True)
    raise AssertionError("unreachable")


def rows_for_keys(
    conn: sqlite3.Connection, table: str, column: str, keys: Sequence[str]
) -> Iterator[tuple[str, Any]]:
    """(key, value of `column`) for those of `keys` that `table` holds."""
    for begin in range(0, len(keys), _BATCH):
        part = list(keys[begin : begin + _BATCH])
        marks = ",".join("?" * len(part))
        yield from conn.execute(
            f"SELECT key, {column} FROM {table} WHERE key IN ({marks})",  # names are ours
            part,
        )
