"""Query translation with the local model: a question is also searched in the collection's other
language, and a small model asked only to translate needs worked examples to do so."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cache

import prompts
from ragqa.errors import GenerationFailed
from service.answer import neutralise
from service.generation import Generator, complete
from service.generation.base import ChatMessage

log = logging.getLogger(__name__)

# A translation target as the translation prompts name it (the query and sentence translators).
TARGET_NAMES = {"zh": "Simplified Chinese", "en": "English"}


class LlmTranslator:
    """Query translation with the local model, cached: the same question costs one call."""

    def __init__(
        self, generator: Generator, *, cache_size: int = 1024, lock: threading.Lock | None = None
    ) -> None:
        self.generator = generator
        # One llama.cpp context serves one call at a time: whoever else uses `generator`
        # passes its lock.
        self.lock = lock or threading.Lock()
        self.cache: OrderedDict[tuple[str, str], str] = OrderedDict()
        self.cache_size = cache_size

    def translate(self, query: str, target: str) -> str:
        key = (query, target)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            messages = [*translation_preamble(), translation_request(neutralise(query), target)]
            try:
                text = complete(self.generator, messages, max_tokens=96)
            except GenerationFailed as e:  # e.g. a question longer than the context window
                log.warning("query not translated into %s, searched as asked: %s", target, e)
                return ""
            translated = text.strip().splitlines()[0].strip() if text.strip() else ""
            self.cache[key] = translated
            if len(self.cache) > self.cache_size:
                self.cache.popitem(last=False)
            return translated

    def prefill(self) -> None:
        """Evaluate the instructions and examples every translation starts with."""
        with self.lock:
            self.generator.prefill(translation_preamble())


def translation_request(query: str, target: str) -> ChatMessage:
    return {
        "role": "user",
        "content": prompts.render(
            "translate_request", query=query, target_language=TARGET_NAMES.get(target, target)
        ),
    }


def worked_turns(
    filename: str, source: str, request: Callable[[str, str], ChatMessage]
) -> tuple[ChatMessage, ...]:
    """A translator's worked examples (`prompts/<filename>`: `target`, the `source` text and
    its `translation`) as the user and assistant turns shown before every request."""
    turns: list[ChatMessage] = []
    for example in json.loads(prompts.resource(filename)):
        turns.append(request(example[source], example["target"]))
        turns.append({"role": "assistant", "content": example["translation"]})
    return tuple(turns)


@cache
def _translation_examples() -> tuple[ChatMessage, ...]:
    return worked_turns("translate_examples.json", "query", translation_request)


def translation_preamble() -> list[ChatMessage]:
    """Instructions and worked examples, the same for every query and both directions, so the
    model's prompt cache keeps them: a small model asked only to translate a question often
    answers it instead, and the examples show it what to do."""
    return [{"role": "system", "content": prompts.template("translate")}, *_translation_examples()]
