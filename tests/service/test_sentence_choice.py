"""The model's choice of the sentence that states the answer: the prompt, the probabilities
read back, and what happens when a back end cannot give them."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ragqa.config import Settings
from ragqa.errors import GenerationFailed
from ragqa.models.registry import QWEN_0_5B
from ragqa.models.resolve import ensure_models
from service.generation import ChatMessage, load_generators
from service.generation.openai_chat import OpenAIChatGenerator
from service.sentence_choice import MAX_SENTENCES, choice_messages, choose_sentence
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

SENTENCES = ["The forum opened on 28 April.", "It was held in Taiyuan.", "Some 300 came."]


class Chooser(FakeGenerator):
    """Gives fixed probabilities to the digits it is offered, or fails like an engine."""

    def __init__(self, probabilities: dict[str, float] | None, fail: bool = False) -> None:
        super().__init__(lambda _: "")
        self.probabilities = probabilities
        self.fail = fail
        self.offered: list[Sequence[str]] = []
        self.named: list[str] = []

    def choice_probabilities(
        self,
        messages: list[ChatMessage],
        choices: Sequence[str],
        *,
        stop: threading.Event | None = None,
    ) -> dict[str, float] | None:
        self.offered.append(choices)
        self.scored.append(messages)
        if self.fail:
            raise GenerationFailed("the engine refused the request: 400 logprobs")
        return self.probabilities


def test_each_sentence_gets_the_probability_of_its_number() -> None:
    chooser = Chooser({"0": 0.1, "1": 0.2, "2": 0.6, "3": 0.1})
    assert choose_sentence(chooser, "Where was it held?", SENTENCES) == ([0.2, 0.6, 0.1], 0.1)
    assert chooser.offered == [["0", "1", "2", "3"]]


def test_the_prompt_numbers_the_sentences_as_data_and_asks_after_them() -> None:
    content = choice_messages("Where was it held?", ["Held\n in   Taiyuan.", "Then."])[0]["content"]
    assert "1. Held in Taiyuan.\n2. Then." in content
    assert content.index("2. Then.") < content.index("Question: Where was it held?")
    assert "0 if none" in content


def test_a_back_end_that_cannot_say_gives_no_judgement() -> None:
    assert choose_sentence(Chooser(None), "Where?", SENTENCES) is None
    assert choose_sentence(Chooser(None, fail=True), "Where?", SENTENCES) is None
    assert choose_sentence(FakeGenerator(lambda _: "2"), "Where?", SENTENCES) is None
    assert choose_sentence(Chooser({"0": 1.0}), "Where?", []) is None


def test_more_sentences_than_single_digit_choices_are_refused() -> None:
    with pytest.raises(ValueError, match=str(MAX_SENTENCES)):
        choose_sentence(Chooser({}), "Where?", ["x."] * (MAX_SENTENCES + 1))


# --- real tier -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_generator() -> Iterator[OpenAIChatGenerator]:
    settings = Settings()
    gguf = str(ensure_models(settings, [QWEN_0_5B.name], progress=False)[QWEN_0_5B.name])
    loaded = load_generators(
        Settings(generator=QWEN_0_5B.name, warm_prompt_cache=False),
        gguf,
        answer_slots=1,
        translator=False,
    )
    generator = loaded.answer[0]
    assert isinstance(generator, OpenAIChatGenerator)
    yield generator
    loaded.close()


@pytest.mark.slow
def test_a_real_engine_reads_a_choice_over_the_numbered_sentences(
    real_generator: OpenAIChatGenerator,
) -> None:
    sentences = [
        "The Loire is the longest river in France.",
        "Paris is the capital of France.",
        "France borders Spain and Italy.",
    ]
    judged = choose_sentence(real_generator, "Which city is the capital of France?", sentences)
    assert judged is not None
    probabilities, none = judged
    assert len(probabilities) == len(sentences)
    assert sum(probabilities) + none == pytest.approx(1.0)
    assert max(probabilities) == probabilities[1], judged


def test_the_answerer_reads_the_sentence_the_model_chose(tmp_path: Path) -> None:
    """With `evidence_judged`, the pooled generator judges the best sentences before it
    answers, and the sentence it names is read first."""

    class ChoosingAnswerer(Chooser):
        """Names the last sentence it is shown, one retrieval ranked below others."""

        def choice_probabilities(
            self,
            messages: list[ChatMessage],
            choices: Sequence[str],
            *,
            stop: threading.Event | None = None,
        ) -> dict[str, float] | None:
            if not choices[-1].isdigit():  # the support judgement: not judged here
                return None
            self.offered.append(choices)
            self.named.append(_line(messages[-1]["content"], choices[-1]))
            return {c: 0.99 if c == choices[-1] else 0.01 / len(choices) for c in choices}

    generator = ChoosingAnswerer(None)
    generator.reply = cite_first_passage
    settings = make_settings(tmp_path, evidence_sentences=1, evidence_judged=9)
    answerer = build_fake_answerer(settings, generators=[generator])
    result = answerer.ask("2024年核医学年会在哪个城市举行？")
    assert generator.offered and len(generator.offered[0]) == 10
    assert " ".join(result.passages[0].text.split()).find(generator.named[0]) >= 0
    assert "judge_sentences_ms" in result.timings


def _line(content: str, number: str) -> str:
    """The text of sentence `number` in the prompt."""
    line = next(line for line in content.splitlines() if line.startswith(f"{number}. "))
    return line.removeprefix(f"{number}. ")
