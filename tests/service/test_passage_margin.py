"""Passages judged alone (`passage_margin`): the model's support is asked of each passage by
itself, only the passages within the margin of the best are read, best first, and the best
probability is the question's support.

Fast tier: fake models whose judgement depends on the passage they are shown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from service.answer import refusal
from service.answering import Answerer
from service.generation import ChatMessage
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

QUESTION = "四川省医学会第二十一次核医学学术会议在哪里召开？"
_ONE_PASSAGE = re.compile(r"^\[1\] ", re.MULTILINE)


def _shown(messages: list[ChatMessage]) -> str:
    """The one passage's text a judgement shows (its user turn holds a single `[1]`)."""
    turn = messages[-1]["content"]
    assert len(_ONE_PASSAGE.findall(turn)) == 1 and "[2]" not in turn
    return turn


def answerer_judging(tmp: Path, scores: dict[int, float], **settings: Any) -> Answerer:
    """A fake answerer whose model judges the passage retrieved at rank `r` (from 1) at
    `scores[r]`, found by the passage text it is shown."""
    answerer = build_fake_answerer(make_settings(tmp, **settings))
    hits = answerer.search(QUESTION, answerer.settings.context_k)
    texts = [h.text[:40] for h in hits]

    def support(messages: list[ChatMessage]) -> float:
        turn = _shown(messages)
        return next(scores[r] for r, t in enumerate(texts, start=1) if t in turn)

    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    generator.support = support
    return answerer


def model(answerer: Answerer) -> FakeGenerator:
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    return generator


def test_each_passage_is_judged_alone_and_the_best_ones_are_read_best_first(
    tmp_path: Path,
) -> None:
    answerer = answerer_judging(
        tmp_path, {1: 0.6, 2: 0.9, 3: 0.85, 4: 0.5}, passage_margin=0.1, support_threshold=0.7
    )
    ranked = answerer.search(QUESTION, 4)
    result = answerer.ask(QUESTION)
    assert len(model(answerer).scored) == 4  # one judgement per passage, none over all four
    # Within 0.1 of the best (0.9): ranks 2 and 3, the best first, numbered from 1.
    assert [p.chunk_id for p in result.passages] == [ranked[1].chunk_id, ranked[2].chunk_id]
    assert [p.n for p in result.passages] == [1, 2]
    assert result.support == 0.9 and not result.refused
    [answered] = model(answerer).calls
    prompt = answered[-1]["content"]
    assert ranked[1].text[:40] in prompt and ranked[2].text[:40] in prompt
    assert ranked[0].text[:40] not in prompt and "[3]" not in prompt
    assert prompt.index(ranked[1].text[:40]) < prompt.index(ranked[2].text[:40])


def test_the_first_passage_is_judged_last_so_the_answer_can_start_from_its_cache(
    tmp_path: Path,
) -> None:
    answerer = answerer_judging(
        tmp_path, {1: 0.9, 2: 0.5, 3: 0.5, 4: 0.5}, passage_margin=0.0, support_threshold=0.5
    )
    ranked = answerer.search(QUESTION, 4)
    result = answerer.ask(QUESTION)
    last_judged = model(answerer).scored[-1][-1]["content"]
    assert ranked[0].text[:40] in last_judged
    assert [p.chunk_id for p in result.passages] == [ranked[0].chunk_id]


def test_below_the_threshold_the_best_passage_s_support_refuses(tmp_path: Path) -> None:
    answerer = answerer_judging(
        tmp_path, {1: 0.6, 2: 0.65, 3: 0.4, 4: 0.3}, passage_margin=0.1, support_threshold=0.7
    )
    result = answerer.ask(QUESTION)
    assert result.refused and result.answer == refusal("zh-Hans")
    assert result.support == 0.65 and model(answerer).calls == []


def test_a_back_end_that_cannot_judge_reads_every_passage(tmp_path: Path) -> None:
    answerer = build_fake_answerer(
        make_settings(tmp_path, passage_margin=0.1, support_threshold=0.7)
    )
    result = answerer.ask(QUESTION)
    assert not result.refused and result.support is None
    assert [p.n for p in result.passages] == [1, 2, 3, 4]


def test_without_the_margin_the_passages_are_judged_together(tmp_path: Path) -> None:
    answerer = build_fake_answerer(make_settings(tmp_path, support_threshold=0.5))
    generator = model(answerer)
    generator.support = lambda messages: 0.8
    result = answerer.ask(QUESTION)
    [judged] = generator.scored
    assert "[4]" in judged[-1]["content"] and len(result.passages) == 4
