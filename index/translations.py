"""Translations of the collection's sentences into its other language, kept beside the index.

A bilingual index also searches every chunk in the collection's other language, so a question
in English finds a Chinese passage through that passage's English text, with no model call per
question. The model that translates lives in the service (`service.bilingual`); this module
keeps what it made: one SQLite file, keyed by each sentence's content hash, the target language
and the translator, committed a sentence at a time. Nothing is translated twice (a re-uploaded
or re-chunked document reuses its sentences), and a crash loses at most the sentence in flight.
The vectors of translated passages are kept beside them, keyed by text and embedder.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.cache_db import connect_or_reset, rows_for_keys
from index.chunking import split_sentences
from index.documents import Chunk

TRANSLATIONS_FILE = "translations.sqlite3"
JOINERS = {"zh": "", "en": " "}  # between sentences of a translated passage


def translator_id(generator: str, generator_url: str | None, prompt: str) -> str:
    """Which model and prompt a cache entry's translation comes from: a remote engine's
    address or the configured generator, and a hash of the prompt (a changed prompt
    translates again)."""
    model = f"url:{generator_url}" if generator_url else generator
    return f"{model}:{text_key(prompt)[:12]}"


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _kept_spans(chunk: Chunk) -> list[tuple[int, int]]:
    """The spans of the chunk's sentences that were not screened as instructions
    (`Chunk.flagged`: never put before a model)."""
    flagged = chunk.flagged
    spans = []
    for start, end in split_sentences(chunk.text):
        sentence = chunk.text[start:end]
        if not any(f == sentence or f in sentence for f in flagged):
            spans.append((start, end))
    return spans


def chunk_sentences(chunk: Chunk) -> list[str]:
    """What a chunk's translation is made of: its title, then each of its kept sentences."""
    kept = [chunk.text[start:end] for start, end in _kept_spans(chunk)]
    return [chunk.title, *kept] if chunk.title else kept


@dataclass(frozen=True, slots=True)
class Reading:
    """A chunk as read in another language: its title's translation, and each kept sentence's
    translation beside that sentence's span in the chunk's text, so a claim found in the
    translation is quoted from the original."""

    language: str
    title: str
    sentences: tuple[tuple[str, int, int], ...]  # (translation, start, end in chunk.text)

    @property
    def text(self) -> str:
        return JOINERS.get(self.language, " ").join(t for t, _, _ in self.sentences if t)

    @property
    def passage(self) -> str:
        """What the embedder and BM25 see, as for a chunk (`index.prepare.passage_text`)."""
        return f"{self.title}\n{self.text}" if self.title else self.text


def reading_of(chunk: Chunk, translations: Mapping[str, str], target: str) -> Reading | None:
    """The chunk in `target`, or None while one of its sentences is not translated."""
    spans = _kept_spans(chunk)
    sentences = [chunk.text[start:end] for start, end in spans]
    if any(s not in translations for s in sentences):
        return None
    if chunk.title and chunk.title not in translations:
        return None
    return Reading(
        language=target,
        title=translations[chunk.title] if chunk.title else "",
        sentences=tuple(
            (translations[s], start, end) for s, (start, end) in zip(sentences, spans, strict=True)
        ),
    )


class TranslationCache:
    """Sentence translations by one translator, and the vectors of translated passages."""

    def __init__(self, path: Path, *, translator: str | None) -> None:
        """`translator` names the model and prompt that translate from now on; None reads
        the one that translated last (for reports, which know no prompt)."""
        self.path = path
        self._lock = threading.Lock()  # one connection, shared by the worker and readers
        self._conn = self._open()
        if translator is None:
            row = self._conn.execute("SELECT value FROM meta WHERE key = 'translator'").fetchone()
            translator = str(row[0]) if row else ""
        else:
            self._conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('translator', ?)", (translator,)
            )
            self._conn.commit()
        self.translator = translator

    def _open(self) -> sqlite3.Connection:
        def setup(conn: sqlite3.Connection) -> None:
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS translations (key TEXT PRIMARY KEY, text TEXT)"
            )
            conn.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")

        return connect_or_reset(self.path, setup)

    def _key(self, sentence: str, target: str) -> str:
        return f"{text_key(sentence)}:{target}:{self.translator}"

    def get_many(self, sentences: Iterable[str], target: str) -> dict[str, str]:
        """The translations into `target` that are kept, by source sentence."""
        by_key = {self._key(s, target): s for s in dict.fromkeys(sentences)}
        with self._lock:
            rows = list(rows_for_keys(self._conn, "translations", "text", list(by_key)))
        return {by_key[key]: text for key, text in rows}

    def put(self, sentence: str, target: str, translation: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT OR REPLACE INTO translations VALUES (?, ?)",
                (self._key(sentence, target), translation),
            )
            self._conn.commit()

    def vectors(self, texts: Iterable[str], embedder: str) -> dict[str, np.ndarray]:
        by_key = {f"{text_key(t)}:{embedder}": t for t in dict.fromkeys(texts)}
        with self._lock:
            rows = list(rows_for_keys(self._conn, "vectors", "vector", list(by_key)))
        return {by_key[key]: np.frombuffer(blob, dtype=np.float32) for key, blob in rows}

    def put_vectors(self, vectors: Mapping[str, np.ndarray], embedder: str) -> None:
        rows = [
            (f"{text_key(t)}:{embedder}", np.asarray(v, dtype=np.float32).tobytes())
            for t, v in vectors.items()
        ]
        with self._lock:
            self._conn.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            self._conn.commit()

    def __len__(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT count(*) FROM translations").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


__all__ = [
    "TRANSLATIONS_FILE",
    "Reading",
    "TranslationCache",
    "chunk_sentences",
    "reading_of",
    "text_key",
    "translator_id",
]
