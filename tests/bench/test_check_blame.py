"""bench.check_blame: naming the check that refused an answer, and what the answer was."""

from __future__ import annotations

from typing import Any

from bench.check_blame import blame
from tests.service.conftest import passage_of_document

GUESTS = (
    "出席开幕式的嘉宾有：中华医学会核医学分会主任委员汪静教授，"
    "中国核学会核医学分会理事长李亚明教授。"
)
PASSAGES = [passage_of_document(1, GUESTS)]


def _row(model_text: str, *, answerable: bool = True) -> dict[str, Any]:
    return {
        "model_text": model_text,
        "language": "zh-Hans",
        "question": "中华医学会核医学分会主任委员是谁？",
        "answerable": answerable,
    }


def test_a_neighbours_title_is_blamed_on_the_title_check_and_scored_wrong() -> None:
    row = _row("中华医学会核医学分会主任委员李亚明教授[1]。")
    assert blame(row, PASSAGES, [["汪静"]]) == [("title no passage gives", "wrong")]


def test_a_right_answer_refused_is_scored_right_and_unanswerable_ones_answered() -> None:
    row = _row("中华医学会核医学分会主任委员是李亚明教授[1]。")
    # Scored against facts that make the copied name right: the check is blamed for it.
    assert blame(row, PASSAGES, [["李亚明"]]) == [("title no passage gives", "right")]
    unanswerable = _row("中华医学会核医学分会主任委员李亚明教授[1]。", answerable=False)
    assert blame(unanswerable, PASSAGES, []) == [("title no passage gives", "answered")]


def test_an_answer_the_replay_lets_through_is_not_blamed() -> None:
    assert blame(_row("中华医学会核医学分会主任委员汪静教授[1]。"), PASSAGES, [["汪静"]]) is None
