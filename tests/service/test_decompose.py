"""Splitting a question that asks several separate things: which splits are used, and how the
answerer answers the parts.

Fast tier: plain data and fake models over the real store and retriever.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ragqa.errors import GenerationFailed
from service.answering import DoneEvent
from service.decompose import Decomposer, decompose_preamble, usable_parts
from service.generation import ChatMessage
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

TWO_PARTS = "李林教授2023年在哪里开会？2024年在哪里开会？"
SPLIT = "李林教授2023年在哪里开会？\n李林教授2024年在哪里开会？"


def test_a_reply_of_several_questions_from_the_questions_words_is_used() -> None:
    assert usable_parts(TWO_PARTS, "zh-Hans", SPLIT) == SPLIT.splitlines()
    # Numbering and blank lines are the model's formatting, not parts.
    numbered = "1. Who won in 2019?\n\n2) Who won in 2021?"
    assert usable_parts("Who won in 2019, and who in 2021?", "en", numbered) == [
        "Who won in 2019?",
        "Who won in 2021?",
    ]


@pytest.mark.parametrize(
    "reply",
    [
        TWO_PARTS,  # repeated whole: one part
        "李林教授2023年在哪里开会？\n李林教授2023年在哪里开会？",  # the same part twice
        "李林教授在哪里开会？\n李林教授何时开会？\n李林教授为何开会？\n李林教授与谁开会？",
        "李林教授2023年在哪里开会？\n王芳获得了什么奖项和荣誉称号？",  # a new subject
        "Where did Professor Li Lin meet in 2023?\nWhere did he meet in 2024?",  # English
        "",
    ],
)
def test_a_reply_that_is_not_a_usable_split_keeps_the_question_whole(reply: str) -> None:
    assert usable_parts(TWO_PARTS, "zh-Hans", reply) == [TWO_PARTS]


def test_the_splitter_asks_once_per_question_after_its_worked_examples() -> None:
    fake = FakeGenerator(lambda messages: SPLIT)
    decomposer = Decomposer(fake)
    assert decomposer.split(TWO_PARTS, "zh-Hans") == SPLIT.splitlines()
    assert decomposer.split(TWO_PARTS, "zh-Hans") == SPLIT.splitlines()
    assert len(fake.calls) == 1
    preamble = decompose_preamble()
    assert fake.calls[0][: len(preamble)] == preamble and len(preamble) > 4
    assert fake.calls[0][-1] == {"role": "user", "content": TWO_PARTS}
    decomposer.prefill()
    assert fake.prefilled == [preamble]


def test_a_failed_split_answers_the_question_whole() -> None:
    def fail(messages: list[ChatMessage]) -> str:
        raise GenerationFailed("context window exceeded")

    assert Decomposer(FakeGenerator(fail)).split(TWO_PARTS, "zh-Hans") == [TWO_PARTS]


QUESTION = "第二届分子影像高峰论坛在哪里举办？第十三届医工协同科技创新学术年会在哪里召开？"
PARTS = ["第二届分子影像高峰论坛在哪里举办？", "第十三届医工协同科技创新学术年会在哪里召开？"]


def _answerer(tmp: Path, split: str, **settings: object):
    answerer = build_fake_answerer(make_settings(tmp, support_threshold=0.5, **settings))
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    fake.support = lambda _: 0.9
    splitter = FakeGenerator(lambda _: split)
    answerer.decomposer = Decomposer(splitter)
    return answerer, fake, splitter


def test_each_part_is_searched_judged_and_answered_alone_then_combined(tmp_path: Path) -> None:
    answerer, fake, _ = _answerer(tmp_path, "\n".join(PARTS))
    events = list(answerer.ask_events(QUESTION))
    result = events[-1].result if isinstance(events[-1], DoneEvent) else None
    assert result is not None and not result.refused
    assert "decompose_ms" in result.timings
    # One judgement and one answer per part, each asking that part over its own passages.
    assert len(fake.scored) == 2 and len(fake.calls) == 2
    for part, call in zip(PARTS, fake.calls, strict=True):
        assert part in call[-1]["content"] and QUESTION not in call[-1]["content"]
    k = answerer.settings.context_k
    assert len(result.passages) == 2 * k  # each part read its own k, listed once in order
    assert [p.n for p in result.passages] == list(range(1, 2 * k + 1))
    assert len(result.answer.splitlines()) == 2  # a line per part, each cited
    assert [c.n for c in result.citations] == [1, 2]
    assert [c.passage.n for c in result.citations] == [1, k + 1]


def test_a_part_judged_unanswered_is_left_out_and_the_rest_answered(tmp_path: Path) -> None:
    answerer, fake, _ = _answerer(tmp_path, "\n".join(PARTS))
    fake.support = lambda messages: 0.9 if PARTS[0] in messages[-1]["content"] else 0.1
    result = answerer.ask(QUESTION)
    assert len(fake.scored) == 2 and len(fake.calls) == 1
    assert not result.refused and len(result.answer.splitlines()) == 1
    assert PARTS[0] in fake.calls[0][-1]["content"]


def test_one_thing_asked_is_answered_whole(tmp_path: Path) -> None:
    answerer, fake, splitter = _answerer(tmp_path, PARTS[0])
    result = answerer.ask(PARTS[0])
    assert len(splitter.calls) == 1 and len(fake.calls) == 1
    assert len(result.passages) == answerer.settings.context_k


def test_a_follow_up_is_answered_whole_with_its_history(tmp_path: Path) -> None:
    answerer, fake, splitter = _answerer(tmp_path, "\n".join(PARTS))
    history = [
        {"role": "user", "content": "第二届分子影像高峰论坛在哪里举办？"},
        {"role": "assistant", "content": "太原[1]。"},
    ]
    answerer.ask(QUESTION, history=history)
    assert splitter.calls == [] and len(fake.calls) == 1
