"""The model's choice of the sentence that states the answer: the prompt, the probabilities
read back, and what happens when a back end cannot give them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from ragqa.errors import GenerationFailed
from service.generation import ChatMessage
from service.generation.openai_chat import OpenAIChatGenerator
from service.sentence_choice import MAX_SENTENCES, choice_messages, choose_sentence
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

SENTENCES = ["The forum opened on 28 April.", "It was held in Taiyuan.", "Some 300 came."]


def chooser(
    answer: dict[str, float] | None, offered: list[Sequence[str]] | None = None
) -> FakeGenerator:
    """A generator that gives `answer` to any choice it is offered, noting the choices."""

    def choose(messages: list[ChatMessage], choices: Sequence[str]) -> dict[str, float] | None:
        if offered is not None:
            offered.append(choices)
        return answer

    return FakeGenerator(cite_first_passage, choose=choose)


def refusing(messages: list[ChatMessage], choices: Sequence[str]) -> dict[str, float] | None:
    raise GenerationFailed("the engine refused the request: 400 logprobs")


def test_each_sentence_gets_the_probability_of_its_number() -> None:
    offered: list[Sequence[str]] = []
    generator = chooser({"0": 0.1, "1": 0.2, "2": 0.6, "3": 0.1}, offered)
    assert choose_sentence(generator, "Where was it held?", SENTENCES) == ([0.2, 0.6, 0.1], 0.1)
    assert offered == [["0", "1", "2", "3"]]


def test_the_prompt_numbers_the_sentences_as_data_and_asks_after_them() -> None:
    content = choice_messages("Where was it held?", ["Held\n in   Taiyuan.", "Then."])[0]["content"]
    assert "1. Held in Taiyuan.\n2. Then." in content
    assert content.index("2. Then.") < content.index("Question: Where was it held?")
    assert "0 if none" in content


def test_a_back_end_that_cannot_say_gives_no_judgement() -> None:
    assert choose_sentence(chooser(None), "Where?", SENTENCES) is None
    assert (
        choose_sentence(FakeGenerator(cite_first_passage, choose=refusing), "Where?", SENTENCES)
        is None
    )
    assert choose_sentence(FakeGenerator(lambda _: "2"), "Where?", SENTENCES) is None
    assert choose_sentence(chooser({"0": 1.0}), "Where?", []) is None


def test_more_sentences_than_single_digit_choices_are_refused() -> None:
    with pytest.raises(ValueError, match=str(MAX_SENTENCES)):
        choose_sentence(chooser({}), "Where?", ["x."] * (MAX_SENTENCES + 1))


# --- real tier -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_engine_reads_a_choice_over_the_numbered_sentences(
    small_generator: OpenAIChatGenerator,
) -> None:
    sentences = [
        "The Loire is the longest river in France.",
        "Paris is the capital of France.",
        "France borders Spain and Italy.",
    ]
    judged = choose_sentence(small_generator, "Which city is the capital of France?", sentences)
    assert judged is not None
    probabilities, none = judged
    assert len(probabilities) == len(sentences)
    assert sum(probabilities) + none == pytest.approx(1.0)
    assert max(probabilities) == probabilities[1], judged


def test_the_answerer_reads_the_sentence_the_model_chose(tmp_path: Path) -> None:
    """With `evidence_judged`, the pooled generator judges the best sentences before it
    answers, and the sentence it names is read first."""
    named: list[str] = []
    offered: list[Sequence[str]] = []

    def last(messages: list[ChatMessage], choices: Sequence[str]) -> dict[str, float] | None:
        """Names the last sentence shown (in document order, so rarely the best-scored)."""
        offered.append(choices)
        named.append(_line(messages[-1]["content"], choices[-1]))
        return {c: 0.99 if c == choices[-1] else 0.01 / len(choices) for c in choices}

    generator = FakeGenerator(cite_first_passage, choose=last)
    settings = make_settings(tmp_path, evidence_sentences=1, evidence_judged=9)
    answerer = build_fake_answerer(settings, generators=[generator])
    result = answerer.ask("2024年核医学年会在哪个城市举行？")
    assert offered and len(offered[0]) == 10
    assert " ".join(result.passages[0].text.split()).find(named[0]) >= 0
    assert "judge_sentences_ms" in result.timings


def _line(content: str, number: str) -> str:
    """The text of sentence `number` in the prompt."""
    line = next(line for line in content.splitlines() if line.startswith(f"{number}. "))
    return line.removeprefix(f"{number}. ")
