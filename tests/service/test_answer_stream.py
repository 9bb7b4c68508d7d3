"""Streamed answers leave a checked sentence at a time (both streaming routes use this)."""

from __future__ import annotations

from service.answer_stream import SentenceGate
from service.passages import Passage

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
