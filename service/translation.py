"""Translation with the local model: a question is also searched in the collection's other
language, and an answer read from passages in another language is translated back into the
question's. A small model asked only to translate needs worked examples to do so."""

from __future__ import annotations

import json
import logging
import threading
from collections import OrderedDict
from functools import cache

import prompts
from ragqa.errors import GenerationFailed
from service.answer import neutralise
from service.generation import Generator, complete
from service.generation.base import ChatMessage

log = logging.getLogger(__name__)

_TARGET_NAMES = {"zh": "Simplified Chinese", "en": "English"}


class LlmTranslator:
    """Translation of queries and answer sentences with the local model, cached: the same
    text costs one call."""

    def __init__(self, generator: Generator, *, cache_size: int = 1024) -> None:
        self.generator = generator
        self.lock = threading.Lock()  # one llama.cpp context serves one call at a time
        self.cache: OrderedDict[tuple[str, str, str], str] = OrderedDict()
        self.cache_size = cache_size

    def translate(self, query: str, target: str) -> str:
        """The search query in `target` ("zh" or "en"), or "" when the model failed."""
        return self._translate("translate_request", query, target, max_tokens=96)

    def translate_sentence(self, sentence: str, target: str) -> str:
        """One answer sentence (markers removed) in `target`, or "" when the model failed."""
        return self._translate("translate_sentence", sentence, target, max_tokens=160)

    def _translate(self, template: str, text: str, target: str, *, max_tokens: int) -> str:
        key = (template, text, target)
        with self.lock:
            if key in self.cache:
                self.cache.move_to_end(key)
                return self.cache[key]
            messages = [
                *translation_preamble(),
                translation_request(neutralise(text), target, template),
            ]
            try:
                text = complete(self.generator, messages, max_tokens=max_tokens)
            except GenerationFailed as e:  # e.g. a text longer than the context window
                log.warning("not translated into %s, used as written: %s", target, e)
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


def translation_request(text: str, target: str, template: str = "translate_request") -> ChatMessage:
    return {
        "role": "user",
        "content": prompts.render(
            template, text=text, target_language=_TARGET_NAMES.get(target, target)
        ),
    }


@cache
def _translation_examples() -> tuple[ChatMessage, ...]:
    turns: list[ChatMessage] = []
    for example in json.loads(prompts.resource("translate_examples.json")):
        template = "translate_sentence" if example.get("kind") == "sentence" else None
        turns.append(
            translation_request(example["text"], example["target"], template or "translate_request")
        )
        turns.append({"role": "assistant", "content": example["translation"]})
    return tuple(turns)


def translation_preamble() -> list[ChatMessage]:
    """Instructions and worked examples, the same for every text and both directions, so the
    model's prompt cache keeps them: a small model asked only to translate a question often
    answers it instead, and the examples show it what to do."""
    return [{"role": "system", "content": prompts.template("translate")}, *_translation_examples()]
