"""Hybrid retrieval: dense (FAISS) and lexical (BM25) candidates fused by calibrated scores.

Cross-lingual questions are handled by query translation: the question is also searched in the
collection's other languages (translated by the local model). Each query variant scores only
the documents written in its own language, so every score compares two texts of one language:
across languages the embedder prefers the query's own language whatever the topic, and BM25
cannot match at all. A chunk's score is its cosine to the variant in its language (the only
signal calibrated across languages) plus `lexical_weight` times its BM25 score relative to the
best lexical match in its language. This beat reciprocal rank fusion of the same lists on the
eval set, and the weight only orders near-ties (README, "How it works", says how to check).

A translation often gets names wrong (Tang Yonglin became 张永林, not 唐勇林), so the lexical
search of each translation also carries the original question's names by sound: its
romanised words against the pinyin n-grams indexed with Chinese text, or its pinyin n-grams
against English words (`textnorm.sound_tokens`).

With the bilingual index on (`service.bilingual`), every chunk also has its translation into
the collection's other language, so a question that is not translated (a plain search) is
searched against the translations into its own language, with no model call: a hit names the
original chunk, and once every chunk is translated the question's own search keeps to
documents of its language too. Beside a translated question (answers), only with
`bilingual_answers`: measured, it cost multi-document recall (docs/evaluation.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from index.backend import SearchFilter, SearchView
from index.bilingual import BilingualView
from index.embedder import Embedder
from index.textnorm import sound_tokens, tokenize
from ragqa.config import Settings
from ragqa.models.registry import min_dense_score
from ragqa.types import RetrievalMode
from service.coreference import resolve_person
from service.followup import search_plan
from service.language import corpus_language, detect_language
from service.passages import SearchHit


class Translator(Protocol):
    def translate(self, query: str, target: str) -> str: ...


@dataclass(slots=True)
class Retrieval:
    """What a search found, whether any of it is relevant, and what it cost."""

    hits: list[SearchHit]
    relevant: bool
    queries: list[str]
    timings: dict[str, float] = field(default_factory=dict)
    followup: bool = False  # searched within the conversation's subject; `relevant` says all
    question: str = ""  # as searched: a follow-up's "he" replaced by whom the last turn named


class HybridRetriever:
    """Searches one index snapshot at a time; the caller passes the live snapshot."""

    def __init__(
        self,
        embedder: Embedder,
        *,
        translator: Translator | None,
        candidate_k: int,
        lexical_weight: float,
        min_dense_score: float,
        cross_lingual: bool,
        bilingual: Callable[[SearchView], BilingualView | None] | None = None,
        bilingual_with_translation: bool = False,
    ) -> None:
        self.embedder = embedder
        self.bilingual = bilingual
        self.bilingual_with_translation = bilingual_with_translation
        self.translator = translator
        self.candidate_k = candidate_k
        self.lexical_weight = lexical_weight
        self.min_dense_score = min_dense_score
        self.cross_lingual = cross_lingual and translator is not None

    @classmethod
    def from_settings(
        cls,
        embedder: Embedder,
        settings: Settings,
        *,
        translator: Translator | None = None,
        bilingual: Callable[[SearchView], BilingualView | None] | None = None,
    ) -> HybridRetriever:
        """The retriever the settings describe (cross-lingual only with a translator)."""
        return cls(
            embedder,
            translator=translator,
            bilingual=bilingual,
            bilingual_with_translation=settings.bilingual_answers,
            candidate_k=settings.candidate_k,
            lexical_weight=settings.lexical_weight,
            min_dense_score=(
                min_dense_score(settings.embedder)
                if settings.min_dense_score is None
                else settings.min_dense_score
            ),
            cross_lingual=settings.cross_lingual,
        )

    def query_variants(
        self, query: str, snapshot: SearchView, cross_lingual: bool | None
    ) -> list[tuple[str, str]]:
        """The query in its own language plus its translation into each other language of the
        collection, each with the coarse language ("zh"/"en") it is written in."""
        language = corpus_language(detect_language(query))
        use = self.cross_lingual if cross_lingual is None else cross_lingual
        if not use or self.translator is None:
            return [(query, language)]
        variants: list[tuple[str, str]] = [(query, language)]
        for target in sorted(set(snapshot.languages) - {language}):
            translated = self.translator.translate(query, target).strip()
            if translated and translated != query:
                variants.append((translated, target))
        return variants

    def search(
        self,
        snapshot: SearchView,
        query: str,
        top_k: int,
        *,
        mode: RetrievalMode = "hybrid",
        cross_lingual: bool | None = None,
        history: Sequence[dict[str, str]] | None = None,
    ) -> Retrieval:
        """The best `top_k` passages for `query`. A follow-up (`service.followup`) is searched
        on its own words within the document the conversation's subject question finds
        first: searched together with that question, a short one ("开幕式是谁主持的？") was
        pulled to whatever shared its words. It is judged relevant on its own when
        elliptical (so history cannot make "今天天气怎么样？" look on topic), else by whether
        the subject question found anything. A follow-up's personal pronoun is searched as the
        person the last turn named (`service.coreference`); `Retrieval.question` says so."""
        plan = search_plan(query, history)
        if plan.subject is None:
            found = self._search(snapshot, query, top_k, mode, cross_lingual)
        else:
            query = resolve_person(query, history)
            found = self._followup(
                snapshot, query, plan.subject, plan.judge_alone, top_k, mode, cross_lingual
            )
        found.question = query
        return found

    def _followup(
        self,
        snapshot: SearchView,
        query: str,
        subject_question: str,
        judge_alone: bool,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
    ) -> Retrieval:
        """A follow-up searched within its subject's document (`search`)."""
        alone = None
        if judge_alone:
            alone = self._search(snapshot, query, top_k, mode, cross_lingual)
            if not alone.relevant:
                return alone
        subject = self._search(snapshot, subject_question, top_k, mode, cross_lingual)
        if not subject.hits or not subject.relevant:
            return alone or self._search(
                snapshot, f"{subject_question}\n{query}", top_k, mode, cross_lingual
            )
        found = self._search(
            snapshot, query, top_k, mode, cross_lingual, frozenset({subject.hits[0].doc_id})
        )
        found.relevant, found.followup = True, True
        found.timings["retrieve_ms"] += subject.timings["retrieve_ms"] + (
            alone.timings["retrieve_ms"] if alone is not None else 0.0
        )
        return found

    def _search(
        self,
        snapshot: SearchView,
        query: str,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        within: frozenset[str] | None = None,
    ) -> Retrieval:
        timings: dict[str, float] = {}
        started = time.perf_counter()
        variants = self.query_variants(query, snapshot, cross_lingual)
        timings["translate_ms"] = (time.perf_counter() - started) * 1000
        original, original_language = variants[0]
        # The translations are searched when the question was not translated (a plain
        # search), and beside its translations only when answers are set to use them.
        use_side = len(variants) == 1 or self.bilingual_with_translation
        view = self.bilingual(snapshot) if self.bilingual is not None and use_side else None
        side = view.side(original_language) if view is not None else None
        # Each score compares two texts of one language when every other-language chunk can be
        # reached in the question's language: by a translated query, or by its own translation.
        matched = len(variants) > 1 or (view is not None and side is not None and view.complete)
        # Over-fetch so that filtering by language still leaves enough candidates.
        fetch = self.candidate_k * (len(variants) + 1)

        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}  # BM25 / best BM25 of the same language
        if mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            vectors = self.embedder.embed_queries([v for v, _ in variants])
            timings["embed_ms"] = (time.perf_counter() - t0) * 1000
            t0 = time.perf_counter()
            for (_, language), vector in zip(variants, vectors, strict=True):
                where = self._where(language if matched else None, within)
                for h in snapshot.dense_search(vector, fetch, where)[0]:
                    dense[h.id] = max(h.score, dense.get(h.id, -1.0))
            if side is not None:  # the question against the translations into its language
                for h in side.dense_search(vectors[0], fetch):
                    dense[h.id] = max(h.score, dense.get(h.id, -1.0))
            timings["dense_ms"] = (time.perf_counter() - t0) * 1000
        if mode in ("lexical", "hybrid"):
            t0 = time.perf_counter()
            sounds = sound_tokens(original, original_language) if len(variants) > 1 else []
            searches = []
            for variant, language in variants:
                tokens = tokenize(variant)
                if language != original_language:
                    tokens += sounds  # what translation loses: how the names sound
                where = self._where(language if matched else None, within)
                searches.append(snapshot.lexical_search_tokens(tokens, fetch, where))
            if side is not None:
                searches.append(side.lexical_search_tokens(tokenize(original), fetch))
                if len(variants) == 1:  # a name the translation got wrong still sounds right
                    names = sound_tokens(original, original_language)
                    others = sorted(snapshot.languages - {original_language}) if names else []
                    for language in others:
                        where = SearchFilter(language=language, doc_ids=within)
                        searches.append(snapshot.lexical_search_tokens(names, fetch, where))
            for hits in searches:
                best = max((h.score for h in hits), default=0.0)
                for h in hits:
                    if best > 0:
                        lexical[h.id] = max(h.score / best, lexical.get(h.id, 0.0))
            timings["lexical_ms"] = (time.perf_counter() - t0) * 1000

        if mode == "lexical":
            scores = dict(lexical)
        else:
            floor = min(dense.values(), default=0.0)  # a lexical-only candidate's cosine
            scores = {
                i: dense.get(i, floor) + self.lexical_weight * lexical.get(i, 0.0)
                for i in dense.keys() | lexical.keys()
            }
        hits_out: list[SearchHit] = []
        seen_texts: set[str] = set()
        for item, score in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0])):
            chunk = snapshot.chunk(item)
            if within is not None and chunk.doc_id not in within:  # found by a translation
                continue
            if chunk.text in seen_texts:  # the same passage stored twice adds nothing
                continue
            seen_texts.add(chunk.text)
            hits_out.append(
                SearchHit(
                    chunk=chunk,
                    score=round(score, 6),
                    dense_score=dense.get(item),
                    lexical_score=lexical.get(item),
                    url=snapshot.documents[chunk.doc_id].url or None,
                )
            )
            if len(hits_out) == top_k:
                break
        timings["retrieve_ms"] = (time.perf_counter() - started) * 1000
        return Retrieval(
            hits_out, self.is_relevant(hits_out, mode), [v for v, _ in variants], timings
        )

    @staticmethod
    def _where(language: str | None, within: frozenset[str] | None) -> SearchFilter | None:
        if language is None and within is None:
            return None
        return SearchFilter(language=language, doc_ids=within)

    def is_relevant(self, hits: Sequence[SearchHit], mode: RetrievalMode) -> bool:
        """Nothing is relevant when no candidate comes close to the question in meaning.

        Lexical-only search has no calibrated score, so any lexical match counts there.
        """
        if not hits:
            return False
        if mode == "lexical":
            return any((h.lexical_score or 0.0) > 0 for h in hits)
        return max(h.dense_score or 0.0 for h in hits) >= self.min_dense_score
