"""The model's own judgement of which retrieved sentence states the answer (issue 16, evidence
first): one choice over a numbered list, read from the probabilities of its first token, so a
question's best sentences cost one prefill together instead of a yes/no each."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

from prompts import render
from ragqa.errors import GenerationFailed
from service.generation import Generator
from service.generation.base import ChatMessage, ChoiceScorer

log = logging.getLogger(__name__)

# Choices are single digits, one token each: 1-9 for the sentences, 0 for none.
MAX_SENTENCES = 9


def choice_messages(question: str, sentences: Sequence[str]) -> list[ChatMessage]:
    """The prompt: the sentences numbered from 1, as data, then the question and the choice."""
    numbered = "\n".join(
        f"{n}. {' '.join(text.split())}" for n, text in enumerate(sentences, start=1)
    )
    return [{"role": "user", "content": render("choose", sentences=numbered, question=question)}]


def choose_sentence(
    generator: Generator,
    question: str,
    sentences: Sequence[str],
    stop: threading.Event | None = None,
) -> tuple[list[float], float] | None:
    """For each sentence the probability that the model names it, and the probability that it
    names none; None when the back end gives no token probabilities."""
    if not sentences or not isinstance(generator, ChoiceScorer):
        return None
    if len(sentences) > MAX_SENTENCES:
        raise ValueError(f"at most {MAX_SENTENCES} sentences can be chosen from")
    choices = [str(n) for n in range(len(sentences) + 1)]
    try:
        probabilities = generator.choice_probabilities(
            choice_messages(question, sentences), choices, stop=stop
        )
    except GenerationFailed as e:
        log.warning("sentence choice not read, going on without it: %s", e)
        return None
    if probabilities is None:
        return None
    return [probabilities[c] for c in choices[1:]], probabilities["0"]
