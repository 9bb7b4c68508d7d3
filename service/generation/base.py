"""The one interface every text generator implements."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from typing import Literal, Protocol, TypedDict, runtime_checkable

from ragqa.errors import GenerationFailed

log = logging.getLogger(__name__)


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


class Generator(Protocol):
    """Streams a chat completion piece by piece; stops early when `stop` is set."""

    model_id: str

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text pieces (about one token each) as they are generated;
        `grammar` (llama.cpp's GBNF) constrains the reply where the back end can."""
        ...

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Tokens the prompt for `messages` takes, chat template included."""
        ...

    def cached_tokens(self) -> int | None:
        """Prompt tokens of the last request that the back end took from its cache; None
        when it does not say."""
        ...

    def prefill(self, messages: list[ChatMessage]) -> None:
        """Evaluate the prompt for `messages` into the back end's prompt cache, so a later
        prompt that starts the same way skips those tokens; a no-op for a back end without
        one."""
        ...


@runtime_checkable
class ChoiceScorer(Protocol):
    """A generator that can also say how likely each of a few one-word replies is: a decision
    read from token probabilities can be calibrated, where a generated word cannot."""

    def choice_probabilities(
        self,
        messages: list[ChatMessage],
        choices: Sequence[str],
        *,
        stop: threading.Event | None = None,
    ) -> dict[str, float] | None:
        """The probability that the reply's first token is each choice (case and spaces
        ignored), renormalised over the choices; None when the back end gives no token
        probabilities, or none of the choices is among its likeliest tokens."""
        ...


def close_stream(stream: Iterator[str]) -> None:
    """End a reply being streamed before its end: a generator's `close` ends the request to
    the engine (a plain iterator has nothing to end)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def complete(generator: Generator, messages: list[ChatMessage], *, max_tokens: int) -> str:
    """The whole answer at once, greedy: for short utility calls such as translation."""
    return "".join(generator.stream(messages, max_tokens=max_tokens, temperature=0.0))


def yes_probability(
    generator: Generator, messages: list[ChatMessage], stop: threading.Event | None = None
) -> float | None:
    """The model's probability of replying "yes" rather than "no" to `messages`, rounded;
    None when the back end cannot say (no token probabilities, or a remote engine that
    refuses them: the caller then decides without it)."""
    if not isinstance(generator, ChoiceScorer):
        return None
    try:
        choices = generator.choice_probabilities(messages, ("yes", "no"), stop=stop)
    except GenerationFailed as e:
        log.warning("yes/no judgement not read, going on without it: %s", e)
        return None
    return None if choices is None else round(choices["yes"], 4)
