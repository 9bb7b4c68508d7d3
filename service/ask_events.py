"""What answering a question yields: the passages, the answer's pieces, then the whole cited
answer (`AskResult`). The HTTP routes, the CLI and the evaluation runner consume these."""

from __future__ import annotations

from dataclasses import dataclass, field

from ragqa.types import Language
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


__all__ = ["AskEvent", "AskResult", "DoneEvent", "PassagesEvent", "TokenEvent"]
