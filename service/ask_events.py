"""What answering a question yields: the passages, the answer's pieces, then the whole cited
answer (`AskResult`). The HTTP routes, the CLI and the evaluation runner consume these."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from ragqa.types import Language
from service.answer import refusal
from service.passages import Citation, Passage


@dataclass(slots=True)
class AskResult:
    question: str
    language: Language
    answer: str
    refused: bool
    citations: list[Citation]
    passages: list[Passage]
    timings: dict[str, float] = field(default_factory=dict)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None  # prompt tokens the engine reused from its KV cache
    # The model's text before the sentence checks: for evaluation, never sent to clients.
    raw_answer: str = ""
    # The model's probability that the passages answer the question (None: not judged).
    support: float | None = None
    # Its probability that the question asks about several events or reports, each answered
    # from its own document's passages at or above `per_document_threshold` (None: not judged).
    several: float | None = None


@dataclass(frozen=True, slots=True)
class PassagesEvent:
    passages: list[Passage]


@dataclass(frozen=True, slots=True)
class TokenEvent:
    text: str


@dataclass(frozen=True, slots=True)
class DoneEvent:
    result: AskResult


AskEvent = PassagesEvent | TokenEvent | DoneEvent


def refusal_events(
    question: str,
    language: Language,
    passages: list[Passage],
    timings: dict[str, float],
    started: float,
    support: float | None = None,
) -> Iterator[AskEvent]:
    """The refusal, without the model writing an answer."""
    timings["generate_ms"] = 0.0
    timings["total_ms"] = round((time.perf_counter() - started) * 1000, 1)
    result = AskResult(
        question, language, refusal(language), True, [], passages, timings, support=support
    )
    yield TokenEvent(result.answer)
    yield DoneEvent(result)


__all__ = [
    "AskEvent",
    "AskResult",
    "DoneEvent",
    "PassagesEvent",
    "TokenEvent",
    "refusal_events",
]
