"""The bilingual side of an index: each chunk's translation, searchable like the chunk itself.

For every language of the collection, the translations into it of the chunks written in the
others, with their vectors (exact inner products: the side is built only for collections small
enough to translate, `Settings.bilingual_max_chunks`) and a BM25 index of their tokens. A hit
names the original chunk, so what is cited and quoted is always the document's own text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from index.backend import Hit, SearchView
from index.documents import Chunk
from index.embedder import Embedder
from index.lexical import LexicalIndex
from index.textnorm import index_tokens
from index.translations import Reading, TranslationCache, chunk_sentences, reading_of
from ragqa.models.resolve import embedder_fingerprint


@runtime_checkable
class ListedView(Protocol):
    """A view that can list its chunks (the embedded store's; Milvus views cannot yet)."""

    def chunk_ids(self) -> np.ndarray: ...

    def chunk(self, chunk_id: int) -> Chunk: ...


@dataclass(frozen=True)
class TranslatedSide:
    """The translations into one language: row i translates chunk `ids[i]`."""

    language: str
    ids: np.ndarray
    vectors: np.ndarray
    lexical: LexicalIndex
    readings: Mapping[str, Reading]  # by chunk id ("doc#n"), for the prompt and the quote

    def dense_search(self, query_vector: np.ndarray, k: int) -> list[Hit]:
        if len(self.ids) == 0 or k <= 0:
            return []
        scores = self.vectors @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        top = np.argsort(-scores, kind="stable")[:k]
        return [Hit(int(self.ids[i]), float(scores[i])) for i in top]

    def lexical_search_tokens(self, tokens: Sequence[str], k: int) -> list[Hit]:
        scores, ids = self.lexical.search_tokens(tokens, k)
        return [Hit(int(i), float(s)) for s, i in zip(scores, ids, strict=True)]


@dataclass(frozen=True)
class Coverage:
    """How much of a snapshot's bilingual side exists: chunk translations made and wanted."""

    translated: int = 0
    wanted: int = 0

    @property
    def pending(self) -> int:
        return self.wanted - self.translated


@dataclass(frozen=True)
class BilingualView:
    """The translated sides of one snapshot generation."""

    generation: str
    sides: Mapping[str, TranslatedSide] = field(default_factory=dict)
    coverage: Coverage = Coverage()

    @property
    def complete(self) -> bool:
        """Every chunk is translated into every other language of the collection."""
        return self.coverage.wanted > 0 and self.coverage.pending == 0

    def side(self, language: str) -> TranslatedSide | None:
        return self.sides.get(language)

    def reading(self, chunk_id: str, language: str) -> Reading | None:
        """The chunk as read in `language`, when it is translated."""
        side = self.sides.get(language)
        return side.readings.get(chunk_id) if side is not None else None


def wanted_translations(snapshot: SearchView) -> list[tuple[Chunk, str]]:
    """Every (chunk, target language) the bilingual side needs: each chunk into each other
    language of the collection, in chunk order (so a backfill goes document by document)."""
    if not isinstance(snapshot, ListedView) or len(snapshot.languages) < 2:
        return []
    documents = snapshot.documents
    wanted = []
    for chunk_id in snapshot.chunk_ids().tolist():
        chunk = snapshot.chunk(int(chunk_id))
        source = documents[chunk.doc_id].language
        for target in sorted(snapshot.languages - {source}):
            wanted.append((chunk, target))
    return wanted


def _chunk_ids(snapshot: SearchView) -> dict[str, int]:
    assert isinstance(snapshot, ListedView)
    return {snapshot.chunk(int(i)).chunk_id: int(i) for i in snapshot.chunk_ids().tolist()}


def readings(
    snapshot: SearchView, cache: TranslationCache
) -> tuple[dict[str, list[tuple[int, Reading]]], Coverage]:
    """(target -> [(chunk id, reading)]) for the chunks whose every sentence is translated,
    and how many of the wanted chunk translations that is."""
    wanted = wanted_translations(snapshot)
    if not wanted:
        return {}, Coverage()
    ids_by_chunk = _chunk_ids(snapshot)
    by_target: dict[str, list[tuple[int, Reading]]] = {}
    translated = 0  # complete, even if the model gave nothing for some sentence (kept empty)
    for target in sorted({t for _, t in wanted}):
        chunks = [c for c, t in wanted if t == target]
        kept = cache.get_many((s for c in chunks for s in chunk_sentences(c)), target)
        for chunk in chunks:
            reading = reading_of(chunk, kept, target)
            translated += reading is not None
            if reading is not None and reading.passage.strip():
                by_target.setdefault(target, []).append((ids_by_chunk[chunk.chunk_id], reading))
    return by_target, Coverage(translated, len(wanted))


def build_view(snapshot: SearchView, cache: TranslationCache, embedder: Embedder) -> BilingualView:
    """The side of `snapshot` that its kept translations make: the translated passages are
    embedded (or their kept vectors reused) and indexed."""
    by_target, coverage = readings(snapshot, cache)
    fingerprint = embedder_fingerprint(embedder.model_id)
    sides: dict[str, TranslatedSide] = {}
    for target, rows in by_target.items():
        passages = [r.passage for _, r in rows]
        vectors = cache.vectors(passages, fingerprint)
        missing = [p for p in dict.fromkeys(passages) if p not in vectors]
        if missing:
            fresh = embedder.embed_documents(missing)
            new = {p: fresh[i] for i, p in enumerate(missing)}
            cache.put_vectors(new, fingerprint)
            vectors.update(new)
        ids = np.array([i for i, _ in rows], dtype=np.int64)
        sides[target] = TranslatedSide(
            language=target,
            ids=ids,
            vectors=np.stack([vectors[p] for p in passages]).astype(np.float32),
            lexical=LexicalIndex.build(ids, (index_tokens(p) for p in passages)),
            readings={snapshot.chunk(int(i)).chunk_id: r for i, r in rows},
        )
    return BilingualView(snapshot.generation, sides, coverage)


__all__ = [
    "BilingualView",
    "Coverage",
    "TranslatedSide",
    "build_view",
    "readings",
    "wanted_translations",
]
