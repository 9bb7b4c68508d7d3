"""The support judgement: the model's probability that the passages answer the question,
read before the answer is written, and the refusal below `support_threshold`.

Fast tier: fake models. Real tier: the token probabilities of a real llama.cpp engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragqa.errors import GenerationFailed
from service.answer import refusal
from service.answering import Answerer
from service.generation import ChatMessage
from service.generation.openai_chat import OpenAIChatGenerator
from tests.fakes import FakeGenerator
from tests.service.conftest import (
    PacedGenerator,
    app_with_generators,
    build_fake_answerer,
    cite_first_passage,
    make_settings,
)

QUESTION = "四川省医学会第二十一次核医学学术会议在哪里召开？"


def answerer_with(tmp: Path, support: float | None, **settings: Any) -> Answerer:
    """An answerer whose one fake model cites the first passage and judges `support`."""
    answerer = build_fake_answerer(make_settings(tmp, **settings))
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    generator.support = None if support is None else (lambda _: support)
    return answerer


def model(answerer: Answerer) -> FakeGenerator:
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    return generator


def test_below_the_threshold_the_question_is_refused_without_writing_an_answer(
    tmp_path: Path,
) -> None:
    answerer = answerer_with(tmp_path, 0.2, support_threshold=0.5)
    result = answerer.ask(QUESTION)
    assert result.refused and result.answer == refusal("zh-Hans")
    assert result.citations == [] and result.passages  # what was searched is still shown
    assert result.support == 0.2 and "support_ms" in result.timings
    assert model(answerer).calls == []  # no answer was generated


def test_at_or_above_the_threshold_the_answer_is_written_and_its_support_kept(
    tmp_path: Path,
) -> None:
    answerer = answerer_with(tmp_path, 0.5, support_threshold=0.5)
    result = answerer.ask(QUESTION)
    assert not result.refused and result.citations and result.support == 0.5
    assert len(model(answerer).calls) == 1


def test_the_judgement_shares_the_answer_prompt_up_to_the_question(tmp_path: Path) -> None:
    """The engine's prompt cache then carries the passages from the judgement to the answer."""
    answerer = answerer_with(tmp_path, 0.9, support_threshold=0.0)
    answerer.ask(QUESTION, history=[{"role": "user", "content": "你好"}])
    [judged], [answered] = model(answerer).scored, model(answerer).calls
    assert judged[:-1] == answered[:-1]  # preamble and history alike
    judge_turn, answer_turn = judged[-1]["content"], answered[-1]["content"]
    shared = answer_turn.split("\n\n")[:-1]  # passages and question, before the instruction
    assert judge_turn.startswith("\n\n".join(shared)) and QUESTION in shared[-1]
    assert "yes or no" in judge_turn and "yes or no" not in answer_turn


def test_a_threshold_of_zero_measures_without_refusing(tmp_path: Path) -> None:
    answerer = answerer_with(tmp_path, 0.0, support_threshold=0.0)
    result = answerer.ask(QUESTION)
    assert not result.refused and result.support == 0.0


@pytest.mark.parametrize("threshold", [None, 0.5])
def test_unset_or_unsupported_the_question_is_answered_unjudged(
    tmp_path: Path, threshold: float | None
) -> None:
    unset = answerer_with(tmp_path / "unset", 0.1, support_threshold=None)
    result = unset.ask(QUESTION)
    assert result.support is None and not result.refused and model(unset).scored == []
    # A back end that gives no token probabilities (here, one without the method at all).
    settings = make_settings(tmp_path / "plain", support_threshold=threshold)
    plain = build_fake_answerer(settings, generators=[PacedGenerator(interval_s=0, word="x")])
    assert plain.ask(QUESTION, max_tokens=1).support is None


# --- real tier -------------------------------------------------------------------------


@pytest.mark.slow
def test_a_real_engine_gives_the_probability_of_each_choice(
    small_generator: OpenAIChatGenerator,
) -> None:
    def asked(fact: str) -> list[ChatMessage]:
        return [
            {
                "role": "user",
                "content": f"Passage: {fact}\nQuestion: Which city is the capital of France?\n"
                "Does the passage state the answer? Reply with one word: yes or no.",
            }
        ]

    stated = small_generator.choice_probabilities(
        asked("Paris is the capital of France."), ("yes", "no")
    )
    unstated = small_generator.choice_probabilities(
        asked("The river Loire is the longest river in France."), ("yes", "no")
    )
    assert stated is not None and unstated is not None
    assert sum(stated.values()) == pytest.approx(1.0)
    assert stated["yes"] > 0.5 > unstated["yes"], (stated, unstated)
    assert "".join(small_generator.stream(asked("Paris."), max_tokens=2, temperature=0.0))


@pytest.mark.parametrize(("support", "refused"), [(0.1, True), (0.8, False)])
def test_the_http_answer_carries_the_support_it_was_given_under(
    tmp_path: Path, support: float, refused: bool
) -> None:
    settings = make_settings(tmp_path, support_threshold=0.5)
    generator = FakeGenerator(cite_first_passage, support=lambda _: support)
    with TestClient(app_with_generators(settings, generator)) as client:
        body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["support"] == support and body["refused"] is refused
    assert bool(body["citations"]) is not refused


def test_an_engine_that_refuses_to_judge_still_answers(tmp_path: Path) -> None:
    """A remote engine may reject `logprobs` with a 4xx: the answer is written unjudged."""

    def refuse(_: list[ChatMessage]) -> float:
        raise GenerationFailed("the engine refused the request: 400 logprobs not supported")

    answerer = answerer_with(tmp_path, None, support_threshold=0.5)
    model(answerer).support = refuse
    result = answerer.ask(QUESTION)
    assert result.support is None and not result.refused and result.citations
