"""The respelling benches score an answer as `ragqa eval` does."""

from __future__ import annotations

from bench.respelling import right

FACTS = [["易群", "Yi Qun"]]


def test_an_answer_is_right_with_every_fact_in_the_question_language() -> None:
    row = {"answerable": True, "language": "en"}
    assert right(row, "The secretary is Yi Qun (易群) [1].", FACTS)
    assert not right(row, "The secretary is Easy Qun [1].", FACTS)
    assert not right(row, "书记是易群[1]。", FACTS)  # an English question answered in Chinese
    assert not right({"answerable": False, "language": "en"}, "Yi Qun [1].", FACTS)
