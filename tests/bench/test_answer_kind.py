"""bench.answer_kind's count of what a check would refuse among a run's answers."""

from __future__ import annotations

from bench.answer_kind import names_a_person, would_refuse
from service.answer_kind import answers_kind


def _row(id_: str, question: str, answer: str, **fields: object) -> dict[str, object]:
    row = {"id": id_, "question": question, "answer": answer, "refused": False}
    return row | {"answerable": True, "correct": True} | fields


def test_answers_the_check_rejects_are_grouped_and_refusals_left_alone() -> None:
    rows = [
        _row("a", "有多少人参会？", "共有300人参会[1]。"),
        _row("b", "有多少人参会？", "众多专家参会[1]。", correct=False),
        _row("c", "冠军拿到多少奖金？", "冠军队荣获第一名[1]。", answerable=False, correct=None),
        _row("d", "会议在哪里举行？", "会议圆满成功[1]。"),
        _row("e", "会议在哪里举行？", "文档中没有找到这个问题的答案。", refused=True),
        _row("f", "主题是什么？", "主题是医工融合[1]。"),
    ]
    assert would_refuse(rows, answers_kind) == {
        "unanswerable": ["c"],
        "wrong": ["b"],
        "right": ["d"],
    }


def test_the_who_variant_wants_a_name_the_question_lacks() -> None:
    assert names_a_person("Who opened the forum?", "Professor Zhang Wei opened it [1].")
    assert not names_a_person("Who opened the forum?", "The forum was opened [1].")
    assert names_a_person("What was the theme?", "The theme was integration [1].")
