"""The one interface every text generator implements."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Literal, Protocol, TypedDict


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
    ) -> Iterator[str]:
        """Yield the answer's text pieces (about one token each) as they are generated."""
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


def complete(generator: Generator, messages: list[ChatMessage], *, max_tokens: int) -> str:
    """The whole answer at once, greedy: for short utility calls such as translation."""
    return "".join(generator.stream(messages, max_tokens=max_tokens, temperature=0.0))
