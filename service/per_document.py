"""Answering a question about several documents one document at a time, then combining.

A small model handed four passages for a question about two conferences answers about the one
the passages happen to favour. Asked about each document alone, with that document's best
passages, it answers each part; every part is checked and cited like a whole answer, and the
combined answer keeps each part's citations.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from index.backend import SearchView
from ragqa.errors import GenerationTimeout
from ragqa.types import CITATION_MARKER, Language, marker_numbers
from service.answer import CitedAnswer, build_messages, postprocess, refusal
from service.answer_guard import repeat_start
from service.answer_language import Translate, retell_text
from service.ask_events import AskResult
from service.generation import Generator
from service.generation.base import close_stream, yes_probability
from service.passages import Citation, Passage, SearchHit, to_passages


@dataclass(frozen=True, slots=True)
class Part:
    """One document's answer: the passages it was given (numbered from 1, as the model saw
    them), the checked answer (None: judged unanswered there, nothing written), the model's
    own text and its support judgement."""

    passages: list[Passage]
    cited: CitedAnswer | None
    raw: str = ""
    support: float | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


def document_groups(
    hits: Sequence[SearchHit], max_documents: int, per_document: int
) -> list[list[SearchHit]]:
    """The best `per_document` hits of each of the first `max_documents` documents, in the
    order the documents first rank."""
    groups: dict[str, list[SearchHit]] = {}
    for hit in hits:
        group = groups.get(hit.doc_id)
        if group is None:
            if len(groups) == max_documents:
                continue
            group = groups[hit.doc_id] = []
        if len(group) < per_document:
            group.append(hit)
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class PartOptions:
    """How each part is answered: the support below which a document is passed over
    unwritten (None: never), and the generation limits."""

    support_threshold: float | None
    max_tokens: int
    temperature: float
    deadline: float  # time.perf_counter() value after which the answer has taken too long
    translate: Translate | None = None  # a part in another language: into the question's


def answer_parts(
    generator: Generator,
    question: str,
    groups: Sequence[Sequence[SearchHit]],
    snapshot: SearchView,
    language: Language,
    options: PartOptions,
    stop: threading.Event,
    timings: dict[str, float],
) -> list[Part]:
    """Each document's part: judged first (its support), then written from its passages
    alone. Adds the time spent judging and writing to `timings`."""
    parts: list[Part] = []
    for group in groups:
        if stop.is_set():
            break
        passages = to_passages(group, snapshot)
        started = time.perf_counter()
        support = None
        if options.support_threshold is not None:
            judged = build_messages(question, passages, language, task="support")
            support = yes_probability(generator, judged, stop)
        timings["support_ms"] = timings.get("support_ms", 0.0) + _ms_since(started)
        if support is not None and support < (options.support_threshold or 0.0):
            parts.append(Part(passages, None, support=support))
            continue
        messages = build_messages(question, passages, language, task="part")
        started, pieces, generated = time.perf_counter(), list[str](), 0
        stream = generator.stream(
            messages, max_tokens=options.max_tokens, temperature=options.temperature, stop=stop
        )
        for piece in stream:
            if not pieces and "ttft_ms" not in timings:
                timings["ttft_ms"] = _ms_since(started)
            pieces.append(piece)
            generated += 1
            loop = repeat_start("".join(pieces))
            if loop is not None:  # the model repeats itself: its second copy is cut
                pieces = ["".join(pieces)[:loop]]
                close_stream(stream)
                break
            if time.perf_counter() > options.deadline:
                stop.set()
                raise GenerationTimeout("the answer's parts took longer than the time limit")
        timings["generate_ms"] = timings.get("generate_ms", 0.0) + _ms_since(started)
        raw = "".join(pieces)
        written = retell_text(raw, language, options.translate) if options.translate else raw
        cited = postprocess(written, passages, language, question)
        tokens = generator.count_tokens(messages)
        parts.append(Part(passages, cited, raw, support, tokens, generated))
    return parts


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def _shift_markers(text: str, offset: int) -> str:
    """`[1][2]` -> `[1+offset][2+offset]`: a part's citations after the earlier parts'."""

    def shifted(match: re.Match[str]) -> str:
        return "".join(f"[{n + offset}]" for n in marker_numbers(match.group(1)))

    return CITATION_MARKER.sub(shifted, text) if offset else text


def combine(parts: Sequence[Part], language: Language) -> tuple[CitedAnswer, list[Passage]]:
    """One answer from the parts answered, a line each in the order of their documents,
    citations renumbered across them; and every passage the model read, numbered once.

    No part answered: the refusal.
    """
    passages: list[Passage] = []
    texts: list[str] = []
    citations: list[Citation] = []
    for part in parts:
        global_n = {p.n: len(passages) + i for i, p in enumerate(part.passages, start=1)}
        passages += [replace(p, n=global_n[p.n]) for p in part.passages]
        if part.cited is None or part.cited.refused:
            continue
        texts.append(_shift_markers(part.cited.answer, len(citations)))
        by_n = {p.n: p for p in passages}
        citations += [
            replace(c, n=len(citations) + c.n, passage=by_n[global_n[c.passage.n]])
            for c in part.cited.citations
        ]
    if not texts:
        return CitedAnswer(refusal(language), True, []), passages
    return CitedAnswer("\n".join(texts), False, citations), passages


def combined_result(
    question: str,
    language: Language,
    parts: list[Part],
    timings: dict[str, float],
    started: float,
    several: float | None,
) -> AskResult:
    """The answer put together from each document's part."""
    cited, passages = combine(parts, language)
    timings["total_ms"] = _ms_since(started)
    supports = [p.support for p in parts if p.support is not None]
    return AskResult(
        question=question,
        language=language,
        answer=cited.answer,
        refused=cited.refused,
        citations=cited.citations,
        passages=passages,
        timings=timings,
        prompt_tokens=sum(p.prompt_tokens for p in parts),
        completion_tokens=sum(p.completion_tokens for p in parts),
        raw_answer="\n".join(p.raw for p in parts if p.raw),
        support=max(supports) if supports else None,
        several=several,
    )


__all__ = [
    "Part",
    "PartOptions",
    "answer_parts",
    "combine",
    "combined_result",
    "document_groups",
]
