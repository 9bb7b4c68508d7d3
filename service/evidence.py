"""Evidence first: the few sentences of the retrieved passages that best match the question,
with their neighbours, handed to the model instead of whole chunks.

Given a few focused sentences with their neighbours, a small model answers right more often
when they hold the facts than given four whole passages (docs/evaluation.md, "Evidence first",
has the measured difference). Sentences are scored like chunks are (cosine to the question or
its translations plus the weighted relative BM25 score of the same token kinds), plus the
retrieval score of the passage holding them; each chosen sentence keeps the sentences beside it
for context. An excerpt is a `Chunk` cut from the document's own text, so its offsets are
exact and every later step (checks, citations, the highlighted view) works on it unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import groupby

import numpy as np

from index.backend import SearchView
from index.chunking import split_units
from index.documents import Chunk
from index.embedder import Embedder
from index.injection import screen
from index.lexical import LexicalIndex
from index.textnorm import index_tokens, sound_tokens, tokenize
from ragqa.config import Settings
from ragqa.errors import DocumentNotFound
from service.language import corpus_language, detect_language
from service.passages import SearchHit

# Sentence context read around a chunk, enough for one neighbouring sentence each side.
_MARGIN = 400
# Longer sentences are cut into clause groups of at most this many characters.
_UNIT_CHARS = 150
# Numbering of a deleted document's chunks' sentences: far apart, so never neighbours.
_APART = 1_000_000
# A news report states its event's when, where and how many in its opening sentences (the
# lede): as many characters as the leading sentence for such a question may be taken from.
_LEDE_CHARS = 400
# Fragments shorter than this ("图片来源", a date line) are never chosen for their own sake.
_MIN_CHARS = 8


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of a retrieved chunk's document, where it is, and where it ranked."""

    doc_id: str
    start: int  # offsets in the document's cleaned text
    end: int
    text: str
    hit: SearchHit  # the best-ranked hit overlapping it, else the one it lies beside
    index: int  # its place among the document's sentences: neighbours differ by one


@dataclass(frozen=True, slots=True)
class EvidenceOptions:
    """How much evidence to give: chosen sentences, neighbours each side, a character budget."""

    sentences: int = 4
    neighbours: int = 1
    max_chars: int = 900
    lexical_weight: float = 0.1
    # Weight of the retrieval score of the best chunk holding a sentence: a sentence is read
    # in its passage's context, which retrieval has already judged.
    chunk_weight: float = 1.0
    # The best-ranked passages read whole, before any sentence is chosen from the rest.
    whole: int = 0
    # The best-scored sentences the model judges (0: none), and the weight of its judgement
    # (the probability that a sentence is the one stating the answer) added to their scores.
    judged: int = 0
    judge_weight: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> EvidenceOptions:
        return cls(
            sentences=settings.evidence_sentences,
            neighbours=settings.evidence_neighbours,
            max_chars=settings.evidence_max_chars,
            lexical_weight=settings.lexical_weight,
            whole=settings.evidence_whole,
            judged=settings.evidence_judged,
        )

    @classmethod
    def lead_from_settings(cls, settings: Settings) -> EvidenceOptions:
        """The leading sentences put before whole passages: single sentences, no neighbours."""
        return cls(
            sentences=settings.evidence_lead,
            neighbours=0,
            max_chars=settings.evidence_lead_chars,
            lexical_weight=settings.lexical_weight,
        )


@dataclass(slots=True)
class Evidence:
    """The excerpts to read, best first, each sentence's score, and what choosing took."""

    hits: list[SearchHit]
    scores: dict[tuple[str, int], float]  # (doc_id, start) -> fused score
    timings: dict[str, float]
    # The model's probability that none of the sentences it judged states the answer.
    none: float | None = None


# The model's judgement of a question's best sentences: for each, the probability that it
# states the answer, and that none does; None when the back end cannot say.
SentenceJudge = Callable[[str, Sequence[str]], tuple[list[float], float] | None]


def document_sentences(
    snapshot: SearchView, hits: Sequence[SearchHit]
) -> tuple[dict[str, list[Sentence]], dict[str, str]]:
    """The sentences (long ones cut into clause groups) that overlap the hits' chunks or lie
    within `_MARGIN` characters of them, per document, in document order; each is attributed
    to the best-ranked hit overlapping it, else to the hit it lies beside. Also each document's
    text ("" when it was deleted since it was retrieved: then its chunks alone are read)."""
    texts: dict[str, str] = {}
    found: dict[str, dict[int, Sentence]] = {}
    for hit in hits:
        doc_id = hit.doc_id
        if doc_id not in texts:
            try:
                texts[doc_id] = snapshot.document_text(doc_id)
            except DocumentNotFound:
                texts[doc_id] = ""
        text = texts[doc_id]
        if text[hit.start : hit.end] == hit.text:
            units = [(i, a, b) for i, (a, b) in enumerate(_units(text))]
            source, offset = text, 0
        else:  # no document to read around the chunk: its own sentences, numbered apart
            apart = _APART * (1 + len(found.get(doc_id, {})))
            units = [(apart + k, a, b) for k, (a, b) in enumerate(_units(hit.text))]
            source, offset = hit.text, hit.start
        # Screened as a whole, as at ingestion: no part of a planted notice is ever read, not
        # even a clause of it as a neighbour.
        planted = _planted(source)
        sentences = found.setdefault(doc_id, {})
        for i, a, b in units:
            start, end = offset + a, offset + b
            if end < hit.start - _MARGIN or start > hit.end + _MARGIN:
                continue
            if any(a < p_end and p_start < b for p_start, p_end in planted):
                continue
            sentence = Sentence(doc_id, start, end, source[a:b], hit, i)
            known = sentences.get(i)
            if known is None or (_holds(hit, sentence) and not _holds(known.hit, known)):
                sentences[i] = sentence
    by_doc = {doc_id: sorted(by_index.values(), key=_at) for doc_id, by_index in found.items()}
    return by_doc, texts


@lru_cache(maxsize=256)
def _units(text: str) -> tuple[tuple[int, int], ...]:
    """A document's evidence units, split once per document text (strings cache their hash)."""
    return tuple(split_units(text, _UNIT_CHARS))


@lru_cache(maxsize=256)
def _planted(text: str) -> tuple[tuple[int, int], ...]:
    """The spans of a document that screening flags, once per document text (several hits
    of one document share it)."""
    return tuple(screen(text).spans)


def _holds(hit: SearchHit, sentence: Sentence) -> bool:
    """The sentence is (partly) in the hit's chunk: chunks may cut a sentence."""
    return sentence.start < hit.end and hit.start < sentence.end


def _at(sentence: Sentence) -> int:
    return sentence.start


class EvidenceSelector:
    """Chooses the excerpts of the retrieved chunks that the model reads."""

    def __init__(
        self, embedder: Embedder, options: EvidenceOptions, judge: SentenceJudge | None = None
    ) -> None:
        self.embedder = embedder
        self.options = options
        self.judge = judge

    def select(
        self,
        snapshot: SearchView,
        queries: Sequence[str],
        hits: Sequence[SearchHit],
        keep: Callable[[str], bool] | None = None,
    ) -> Evidence:
        """Excerpts of `hits` for the question and its translations (`queries`, the original
        first), best first, within the character budget; only sentences whose text `keep`
        accepts are chosen (none: the hits themselves, unscored)."""
        started = time.perf_counter()
        by_doc, texts = document_sentences(snapshot, hits)
        candidates = [
            s
            for sentences in by_doc.values()
            for s in sentences
            if len(s.text.strip()) >= _MIN_CHARS
            and any(_holds(h, s) for h in hits if h.doc_id == s.doc_id)
            and (keep is None or keep(s.text))
        ]
        if not candidates or not queries:
            return Evidence(list(hits), {}, {"evidence_ms": 0.0})
        scores = self._scores(queries, candidates)
        none = None
        judged_ms: float | None = None
        if self.judge is not None and self.options.judged > 0:
            judged_at = time.perf_counter()
            order = sorted(range(len(candidates)), key=lambda i: (-scores[i], candidates[i].start))
            # Shown in document order, so the list's order does not tell the model the scores.
            shown = sorted(
                order[: self.options.judged],
                key=lambda i: (candidates[i].doc_id, _at(candidates[i])),
            )
            judged = self.judge(queries[0], [candidates[i].text for i in shown])
            if judged is not None:
                probabilities, none = judged
                for i, p in zip(shown, probabilities, strict=True):
                    scores[i] += self.options.judge_weight * p
            judged_ms = round((time.perf_counter() - judged_at) * 1000, 1)
        keyed = {(s.doc_id, s.start): score for s, score in zip(candidates, scores, strict=True)}
        ranked = sorted(
            zip(candidates, scores, strict=True), key=lambda pair: (-pair[1], pair[0].start)
        )
        chosen: dict[str, set[int]] = {}
        best: dict[tuple[str, int], float] = {}  # (doc, sentence index) -> its seed's score
        at = {doc_id: {s.index: s for s in sentences} for doc_id, sentences in by_doc.items()}
        used = 0
        for hit in hits[: self.options.whole]:  # read whole, scored by their best sentence
            inside = [s for s in by_doc[hit.doc_id] if _holds(hit, s)]
            new = {s.index for s in inside} - chosen.get(hit.doc_id, set())
            used += sum(len(at[hit.doc_id][i].text) for i in new)
            chosen.setdefault(hit.doc_id, set()).update(new)
            scored = [keyed.get((hit.doc_id, s.start)) for s in inside]
            top = max((x for x in scored if x is not None), default=hit.score)
            if inside:
                key = (hit.doc_id, inside[0].index)
                best[key] = max(top, best.get(key, top))
        ranked = [(s, x) for s, x in ranked if s.index not in chosen.get(s.doc_id, set())]
        for seed, score in ranked[: self.options.sentences]:
            around = range(
                seed.index - self.options.neighbours, seed.index + self.options.neighbours + 1
            )
            new = {i for i in around if i in at[seed.doc_id]} - chosen.get(seed.doc_id, set())
            cost = sum(len(at[seed.doc_id][i].text) for i in new)
            if used and used + cost > self.options.max_chars:
                continue
            used += cost
            chosen.setdefault(seed.doc_id, set()).update(new)
            best[(seed.doc_id, seed.index)] = score
        excerpts = _excerpts(at, texts, chosen, best)
        timings = {"evidence_ms": round((time.perf_counter() - started) * 1000, 1)}
        if judged_ms is not None:
            timings["judge_sentences_ms"] = judged_ms
        return Evidence(excerpts, keyed, timings, none)

    def _scores(self, queries: Sequence[str], candidates: Sequence[Sentence]) -> list[float]:
        """Cosine to the closest query plus the weighted BM25 score relative to the best."""
        # Embedded and matched as chunks are, with the document's title for context.
        texts = [f"{s.hit.title}\n{s.text}" if s.hit.title else s.text for s in candidates]
        vectors = self.embedder.embed_documents(texts)
        query_vectors = self.embedder.embed_queries(list(queries))
        dense = np.max(np.asarray(vectors) @ np.asarray(query_vectors).T, axis=1)
        original = queries[0]
        language = corpus_language(detect_language(original))
        sounds = sound_tokens(original, language) if len(queries) > 1 else []
        lexical = LexicalIndex.build(
            np.arange(len(texts), dtype=np.int64), (index_tokens(t) for t in texts)
        )
        relative = np.zeros(len(texts), dtype=np.float32)
        for k, query in enumerate(queries):
            tokens = tokenize(query) + (sounds if k else [])
            found, ids = lexical.search_tokens(tokens, len(texts), exact=True)
            if found.size and found.max() > 0:
                relative[ids] = np.maximum(relative[ids], found / found.max())
        fused = dense + self.options.lexical_weight * relative
        fused += self.options.chunk_weight * np.array([s.hit.score for s in candidates])
        return [float(x) for x in fused]


def lede_hits(snapshot: SearchView, hits: Sequence[SearchHit]) -> list[SearchHit]:
    """For each document of `hits`, a hit spanning its opening (the lede, `_LEDE_CHARS`),
    scored as the document's best hit: where a report states its event's date, place and
    attendance, though retrieval may have found only later passages of it."""
    best: dict[str, SearchHit] = {}
    for hit in hits:
        if hit.doc_id not in best or hit.score > best[hit.doc_id].score:
            best[hit.doc_id] = hit
    ledes = []
    for doc_id, hit in best.items():
        try:
            text = snapshot.document_text(doc_id)[:_LEDE_CHARS]
        except DocumentNotFound:
            continue
        chunk = Chunk(f"{doc_id}#0", doc_id, 0, text, 0, len(text), title=hit.title)
        ledes.append(replace(hit, chunk=chunk))
    return ledes


def _excerpts(
    at: dict[str, dict[int, Sentence]],
    texts: dict[str, str],
    chosen: dict[str, set[int]],
    best: dict[tuple[str, int], float],
) -> list[SearchHit]:
    """Each run of consecutive chosen sentences as one excerpt, ordered by its best seed."""
    out: list[tuple[float, SearchHit]] = []
    for doc_id, indexes in chosen.items():
        # Consecutive indexes share their difference from their place in the sorted list.
        for _, run in groupby(enumerate(sorted(indexes)), key=lambda pair: pair[1] - pair[0]):
            sentences = [at[doc_id][i] for _, i in run]
            out.append(_excerpt(texts[doc_id], sentences, best))
    out.sort(key=lambda pair: -pair[0])
    return [hit for _, hit in out]


def _excerpt(
    document: str, run: list[Sentence], best: dict[tuple[str, int], float]
) -> tuple[float, SearchHit]:
    """The document's text from the run's first sentence to its last, as a chunk of its own
    (its id names the chunk it was cut from and its span, so excerpts never share an id)."""
    doc_id = run[0].doc_id
    seeds = [best[(doc_id, s.index)] for s in run if (doc_id, s.index) in best]
    score = max(seeds, default=run[0].hit.score)
    source = max(run, key=lambda s: best.get((doc_id, s.index), -1.0)).hit
    start, end = run[0].start, run[-1].end
    if document[start:end].endswith(run[-1].text):
        text = document[start:end]
    else:  # the document is gone: the run lies within the one chunk read
        text = source.text[start - source.start : end - source.start]
    chunk = Chunk(
        chunk_id=f"{source.chunk_id}:{start}-{end}",
        doc_id=doc_id,
        n=source.chunk.n,
        text=text,
        start=start,
        end=end,
        title=source.title,
        flagged=tuple(f for s in run for f in s.hit.chunk.flagged if f in text),
    )
    return score, SearchHit(
        chunk=chunk,
        score=round(score, 6),
        dense_score=source.dense_score,
        lexical_score=source.lexical_score,
        url=source.url,
    )
