"""The OpenAI stream: text as it comes, each sentence's markers as the final answer has them."""

from __future__ import annotations

from service.answer import Passage
from service.routers.chat import _CheckedStream

PASSAGES = [
    Passage(1, "a.txt", "a.txt#1", "A", "The museum opens at nine.", 0, 25, 0.5),
    Passage(2, "b.txt", "b.txt#2", "B", "The forum was held in Taiyuan.", 0, 30, 0.5),
]


def stream(tokens: list[str]) -> list[str]:
    checked = _CheckedStream(PASSAGES, "en", "Where was the forum held?")
    return [checked.feed(t) for t in tokens] + [checked.finish()]


def test_text_streams_at_once_and_markers_follow_the_supporting_passage() -> None:
    pieces = stream(["The forum", " was held in", " Taiyuan [", "1", "].", " It", " was big."])
    assert pieces[0] == "The forum"  # no waiting for the sentence to end
    assert "".join(pieces) == "The forum was held in Taiyuan .[2] It was big."


def test_a_marker_split_across_tokens_is_never_sent_half_written() -> None:
    pieces = stream(["Alpha [", "2", "]", " beta."])
    assert all("[" not in p or "]" in p for p in pieces)
    assert "".join(pieces).startswith("Alpha")
