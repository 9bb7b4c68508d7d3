"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by reciprocal rank.

Cross-lingual questions are handled by query translation: the question is also searched in
the collection's other languages (translated by the local model), and every ranked list of
every query variant takes part in the fusion. The default embedder is weak across languages,
and BM25 cannot match across them at all, so this is what lets an English question find a
Chinese article.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

from index.documents import Chunk
from index.embedder import Embedder
from index.store import IndexSnapshot
from service.language import Language, corpus_language, detect_language

RetrievalMode = Literal["dense", "lexical", "hybrid"]
RETRIEVAL_MODES: tuple[RetrievalMode, ...] = ("dense", "lexical", "hybrid")


class Translator(Protocol):
    def translate(self, query: str, target: str) -> str: ...


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A retrieved chunk with its fused score and the scores that made it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    url: str | None = None

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end


@dataclass(slots=True)
class Retrieval:
    """What a search found, whether any of it is relevant, and what it cost."""

    hits: list[SearchHit]
    relevant: bool
    queries: list[str]
    timings: dict[str, float] = field(default_factory=dict)


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int) -> dict[int, float]:
    """Sum of 1 / (k + rank) over every ranking an id appears in (rank starts at 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return fused


def retrieval_query(question: str, history: Sequence[dict[str, str]] | None) -> str:
    """A follow-up is searched together with the user's previous question, which names
    what "it" or "that" refers to; the generator still sees the whole conversation."""
    earlier = [t["content"] for t in history or () if t.get("role") == "user"]
    return f"{earlier[-1]}\n{question}" if earlier else question


class HybridRetriever:
    """Searches one index snapshot at a time; the caller passes the live snapshot."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        translator: Translator | None,
        candidate_k: int,
        rrf_k: int,
        min_dense_score: float,
        cross_lingual: bool,
    ) -> None:
        self.embedder = embedder
        self.translator = translator
        self.candidate_k = candidate_k
        self.rrf_k = rrf_k
        self.min_dense_score = min_dense_score
        self.cross_lingual = cross_lingual and translator is not None

    def query_variants(
        self, query: str, snapshot: IndexSnapshot, cross_lingual: bool | None
    ) -> list[str]:
        """The query itself plus its translation into each other language of the collection."""
        use = self.cross_lingual if cross_lingual is None else cross_lingual
        if not use or self.translator is None:
            return [query]
        language: Language = detect_language(query)
        targets = sorted(set(snapshot.languages) - {corpus_language(language)})
        variants = [query]
        for target in targets:
            translated = self.translator.translate(query, target).strip()
            if translated and translated not in variants:
                variants.append(translated)
        return variants

    def search(
        self,
        snapshot: IndexSnapshot,
        query: str,
        top_k: int,
        *,
        mode: RetrievalMode = "hybrid",
        cross_lingual: bool | None = None,
        history: Sequence[dict[str, str]] | None = None,
    ) -> Retrieval:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        text = retrieval_query(query, history)
        variants = self.query_variants(text, snapshot, cross_lingual)
        timings["translate_ms"] = (time.perf_counter() - started) * 1000

        rankings: list[list[int]] = []
        dense_scores: dict[int, float] = {}
        lexical_scores: dict[int, float] = {}
        if mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            vectors = self.embedder.embed_queries(variants)
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            for ranked in snapshot.dense_search(vectors, self.candidate_k):
                rankings.append([item for item, _ in ranked])
                for item, score in ranked:
                    dense_scores[item] = max(score, dense_scores.get(item, -1.0))
            timings["dense_ms"] = (time.perf_counter() - t0) * 1000
        if mode in ("lexical", "hybrid"):
            t0 = time.perf_counter()
            for variant in variants:
                ranked = snapshot.lexical_search(variant, self.candidate_k)
                rankings.append([item for item, _ in ranked])
                for item, score in ranked:
                    lexical_scores[item] = max(score, lexical_scores.get(item, 0.0))
            timings["lexical_ms"] = (time.perf_counter() - t0) * 1000

        fused = reciprocal_rank_fusion(rankings, self.rrf_k)
        hits: list[SearchHit] = []
        seen_texts: set[str] = set()
        for item, score in sorted(fused.items(), key=lambda kv: (-kv[1], kv[0])):
            chunk = snapshot.chunk(item)
            if chunk.text in seen_texts:  # the same passage stored twice adds nothing
                continue
            seen_texts.add(chunk.text)
            hits.append(
                SearchHit(
                    chunk=chunk,
                    score=round(score, 6),
                    dense_score=dense_scores.get(item),
                    lexical_score=lexical_scores.get(item),
                    url=snapshot.documents[chunk.doc_id].url or None,
                )
            )
            if len(hits) == top_k:
                break
        timings["retrieve_ms"] = (time.perf_counter() - started) * 1000
        return Retrieval(hits, self.is_relevant(hits, mode), variants, timings)

    def is_relevant(self, hits: Sequence[SearchHit], mode: RetrievalMode) -> bool:
        """Nothing is relevant when no candidate comes close to the question in meaning.

        Lexical-only search has no calibrated score, so any lexical match counts there.
        """
        if not hits:
            return False
        if mode == "lexical":
            return any((h.lexical_score or 0.0) > 0 for h in hits)
        return max(h.dense_score or 0.0 for h in hits) >= self.min_dense_score
