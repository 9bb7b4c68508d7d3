"""Streamed answers leave a checked sentence at a time (both streaming routes use this)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from service.answer_guard import repeat_start
from service.answer_stream import SentenceGate
from service.generation.base import ChatMessage
from service.passages import Passage
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

PASSAGES = [
    Passage.of(1, "a.txt", "a.txt#1", "A", "The museum opens at nine.", 0, 25, 0.5),
    Passage.of(2, "b.txt", "b.txt#2", "B", "The forum was held in Taiyuan.", 0, 30, 0.5),
]


def stream(tokens: list[str]) -> list[str]:
    gate = SentenceGate(PASSAGES, "en", "Where was the forum held?")
    return [gate.feed(t) for t in tokens] + [gate.finish()]


def test_a_sentence_leaves_whole_with_markers_on_the_supporting_passage() -> None:
    pieces = stream(["The forum", " was held in", " Taiyuan [", "1", "].", " It", " was big."])
    assert pieces[:4] == ["", "", "", ""]  # nothing while the sentence is open
    assert "".join(pieces) == "The forum was held in Taiyuan[2]. It was big."


def test_a_sentence_that_fails_a_check_never_leaves() -> None:
    pieces = stream(["The forum was held in Taiyuan [2].", " Tickets cost 300 yuan [2]."])
    assert "".join(pieces) == "The forum was held in Taiyuan[2]. "


def test_a_marker_split_across_tokens_is_never_sent_half_written() -> None:
    pieces = stream(["Alpha [", "2", "]", " beta."])
    assert all(p.count("[") == p.count("]") for p in pieces)
    assert "".join(pieces).startswith("Alpha")


LOOP = "University College Dublin, Southern Illinois University, "


def test_repeat_start_finds_a_run_written_twice_in_a_row_and_nothing_else() -> None:
    looping = "The speakers came from " + LOOP * 2
    assert repeat_start(looping) == len("The speakers came from ") + len(LOOP)
    for plain in (
        "The forum was held in Taiyuan [1], and the forum was held again in Taiyuan [2].",
        "核医之光队、勇者无敌队、核力不凡队进入决赛[1]。",
        "2024-2024-2024",  # too short to be a loop
        "........................................",  # no words
    ):
        assert repeat_start(plain) is None, plain


def test_a_looping_answer_is_cut_at_its_second_copy() -> None:
    gate = SentenceGate(PASSAGES, "en", "Where was the forum held?")
    pieces = ["The forum was held in Taiyuan [2].", " The speakers came from "]
    pieces += [LOOP] * 5
    out = []
    for piece in pieces:
        out.append(gate.feed(piece))
        if gate.looped:
            break
    out.append(gate.finish())
    assert gate.looped
    assert gate.written.count(LOOP) == 1
    assert "".join(out).startswith("The forum was held in Taiyuan[2].")


def test_the_answerer_stops_the_model_once_it_loops(tmp_path: Path) -> None:
    taken: list[str] = []

    class Looping(FakeGenerator):
        def stream(self, messages: list[ChatMessage], **options: Any) -> Iterator[str]:
            for piece in super().stream(messages, **options):
                taken.append(piece)
                yield piece

    reply = (
        "论坛在太原举办[1]。 来宾来自 " + "南伊利诺伊大学医学院、 紐西兰人工智能計算公司、 " * 20
    )
    settings = make_settings(tmp_path)
    answerer = build_fake_answerer(settings, generators=[Looping(lambda m: reply)])
    result = answerer.ask("第二届全国分子影像精准诊疗协同创新高峰论坛在哪里举办？")
    assert "太原" in result.answer and not result.refused
    assert result.answer.count("紐西兰人工智能計算公司") <= 1  # its loop is cut, whatever else
    assert result.raw_answer.count("紐西兰人工智能計算公司") == 2  # read up to the second copy
    assert len(taken) < len(reply.split(" ")) // 2  # the model was stopped, not read out
