"""A deterministic generator for fast unit tests of the answer logic (never for serving)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import prompts
from service.generation.base import ChatMessage


class FakeGenerator:
    """Answers with `reply(messages)`, streamed word by word; with `support`, also scores
    yes/no choices: P(yes) = support(messages), or `several(messages)` when asked whether the
    question concerns several events (no `several`: it cannot say); any other choice is
    `choose(messages, choices)` (no `choose`: it cannot say)."""

    model_id = "fake"

    def __init__(
        self,
        reply: Callable[[list[ChatMessage]], str],
        support: Callable[[list[ChatMessage]], float] | None = None,
        several: Callable[[list[ChatMessage]], float] | None = None,
        choose: Callable[[list[ChatMessage], Sequence[str]], dict[str, float] | None] | None = None,
    ) -> None:
        self.reply = reply
        self.support = support
        self.several = several
        self.choose = choose
        self.scored: list[list[ChatMessage]] = []
        self.calls: list[list[ChatMessage]] = []
        self.prefilled: list[list[ChatMessage]] = []

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        self.calls.append(messages)
        words = self.reply(messages).split(" ")
        for i, word in enumerate(words[:max_tokens]):
            if stop is not None and stop.is_set():
                return
            yield word if i == 0 else " " + word

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def cached_tokens(self) -> int | None:
        return None

    def prefill(self, messages: list[ChatMessage]) -> None:
        self.prefilled.append(messages)

    def choice_probabilities(
        self,
        messages: list[ChatMessage],
        choices: Sequence[str],
        *,
        stop: threading.Event | None = None,
    ) -> dict[str, float] | None:
        if list(choices) != ["yes", "no"]:
            return None if self.choose is None else self.choose(messages, choices)
        judge = self.several if _asks_several(messages) else self.support
        if judge is None:
            return None
        self.scored.append(messages)
        yes = judge(messages)
        return {"yes": yes, "no": 1.0 - yes}


def _asks_several(messages: list[ChatMessage]) -> bool:
    return messages[-1]["content"].endswith(prompts.template("several"))
