"""bench.support_cache: the report puts each question's four judgements side by side."""

from __future__ import annotations

from typing import Any

from bench.support_cache import _questions, table


def test_each_question_s_judgements_line_up_by_mode_and_round() -> None:
    runs: dict[str, list[list[Any]]] = {
        "cache": [["h037", 0.6091, False], ["q026", 0.6664, False]] * 2,
        "nocache": [["h037", 0.5983, True], ["q026", None, False]] * 2,
    }
    rows = [line for line in table(["h037", "q026"], runs).splitlines() if line.startswith("| ")]
    assert rows[-2] == "| h037 | 0.6091 | 0.6091 | 0.5983 refused | 0.5983 refused |"
    assert rows[-1] == "| q026 | 0.6664 | 0.6664 | none | none |"


def test_questions_of_every_set_are_found_by_id() -> None:
    questions = _questions()
    assert {"q001", "h037", "k040"} <= questions.keys()
    assert "田蓉" in questions["h037"]
