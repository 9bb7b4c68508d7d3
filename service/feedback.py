"""Readers' ratings of answers, kept in SQLite beside the index, so that the answers people
marked wrong can become evaluation items (`ragqa feedback export`).

One short transaction per rating; a connection per call, so request threads share nothing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

Rating = Literal["up", "down"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at TEXT NOT NULL,
    rating TEXT NOT NULL CHECK (rating IN ('up', 'down')),
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    refused INTEGER NOT NULL,
    citations TEXT NOT NULL,
    history TEXT NOT NULL,
    comment TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    """One rating of one answer, as stored."""

    id: int
    created_at: str
    rating: Rating
    question: str
    answer: str
    refused: bool
    citations: list[dict[str, Any]]
    history: list[dict[str, str]]
    comment: str


class FeedbackStore:
    """The feedback table in one SQLite file; created at the first write."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One transaction per call: committed, or rolled back on an error; then closed.
        with closing(sqlite3.connect(self.path, timeout=10)) as connection, connection:
            connection.execute(_SCHEMA)
            yield connection

    def add(
        self,
        *,
        rating: Rating,
        question: str,
        answer: str,
        refused: bool,
        citations: Sequence[dict[str, Any]],
        history: Sequence[dict[str, str]],
        comment: str,
    ) -> int:
        """Store one rating; its id."""
        with self._connect() as db:
            cursor = db.execute(
                "INSERT INTO feedback (created_at, rating, question, answer, refused, citations,"
                " history, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="seconds"),
                    rating,
                    question,
                    answer,
                    int(refused),
                    json.dumps(list(citations), ensure_ascii=False),
                    json.dumps(list(history), ensure_ascii=False),
                    comment,
                ),
            )
            return int(cursor.lastrowid or 0)

    def records(self, rating: Rating | None = None) -> list[FeedbackRecord]:
        """Stored ratings, oldest first (only `rating` ones when given); none if no file."""
        if not self.path.exists():
            return []
        query = "SELECT * FROM feedback" + (" WHERE rating = ?" if rating else "") + " ORDER BY id"
        with self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(query, (rating,) if rating else ()).fetchall()
        return [
            FeedbackRecord(
                id=row["id"],
                created_at=row["created_at"],
                rating=row["rating"],
                question=row["question"],
                answer=row["answer"],
                refused=bool(row["refused"]),
                citations=json.loads(row["citations"]),
                history=json.loads(row["history"]),
                comment=row["comment"],
            )
            for row in rows
        ]
