"""Questions that ask several separate things, split into one question per thing.

A small model handed four passages for "who chaired it in 2023, and who in 2024?" answers the
part its passages favour. Asked each part as a question of its own, each is searched, judged
and answered like any question, and the answers are put together (`service/per_document.py`).
The model splits the question after worked examples from another collection; a split that
brings in words the question does not have, or changes its language, is not used.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict
from functools import cache

import prompts
from index.textnorm import tokenize
from ragqa.errors import GenerationFailed
from ragqa.types import Language
from service.answer import neutralise
from service.generation import Generator, complete
from service.generation.base import ChatMessage
from service.language import detect_language

log = logging.getLogger(__name__)

MAX_PARTS = 3
# Of a part's words, the share the question must hold: a part may repeat a name the question
# shares between its parts, not bring in a new subject.
MIN_SHARED = 0.7
_NUMBERING = re.compile(r"^\s*(?:[-*•]|\d+[.)、．]|[（(]\d+[)）])\s*")


class Decomposer:
    """Splits a question with the local model, cached: the same question costs one call."""

    def __init__(
        self, generator: Generator, *, cache_size: int = 1024, lock: threading.Lock | None = None
    ) -> None:
        self.generator = generator
        self.lock = lock or threading.Lock()
        self.cache: OrderedDict[str, list[str]] = OrderedDict()
        self.cache_size = cache_size

    def split(self, question: str, language: Language) -> list[str]:
        """The question's separate parts, each a question of its own; `[question]` when it
        asks one thing (or the model's split is not usable)."""
        with self.lock:
            if question in self.cache:
                self.cache.move_to_end(question)
                return self.cache[question]
            messages = [*decompose_preamble(), decompose_request(neutralise(question))]
            try:
                text = complete(self.generator, messages, max_tokens=160)
            except GenerationFailed as e:
                log.warning("question not split, answered whole: %s", e)
                return [question]
            parts = usable_parts(question, language, text)
            self.cache[question] = parts
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
            return parts

    def prefill(self) -> None:
        """Evaluate the instructions and examples every split starts with."""
        with self.lock:
            self.generator.prefill(decompose_preamble())


def usable_parts(question: str, language: Language, reply: str) -> list[str]:
    """The model's reply as a list of parts, or `[question]` when it is one part, too many,
    in another language, or brings in words the question does not have."""
    lines = [_NUMBERING.sub("", line).strip() for line in reply.strip().splitlines()]
    parts = list(dict.fromkeys(line for line in lines if line))
    if not 1 < len(parts) <= MAX_PARTS:
        return [question]
    asked = set(tokenize(question))
    for part in parts:
        if detect_language(part) != language:
            return [question]
        words = [w for w in tokenize(part) if w.strip()]
        if not words or sum(w in asked for w in words) / len(words) < MIN_SHARED:
            return [question]
    return parts


def decompose_request(question: str) -> ChatMessage:
    return {"role": "user", "content": question}


@cache
def _examples() -> tuple[ChatMessage, ...]:
    turns: list[ChatMessage] = []
    for example in json.loads(prompts.resource("decompose_examples.json")):
        turns.append(decompose_request(example["question"]))
        turns.append({"role": "assistant", "content": example["parts"]})
    return tuple(turns)


def decompose_preamble() -> list[ChatMessage]:
    """Instructions and worked examples, the same for every question, so the engine's prompt
    cache keeps them."""
    return [{"role": "system", "content": prompts.template("decompose")}, *_examples()]


__all__ = ["Decomposer", "decompose_preamble", "usable_parts"]
