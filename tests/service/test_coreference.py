"""A follow-up's personal pronoun, replaced by the one person the last exchange named."""

from __future__ import annotations

import pytest

from service.coreference import resolve_person


def _turn(question: str, answer: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


WELCOMED = _turn(
    "Who welcomed the guests at the start of the forum?",
    "Professor Li Sijin (李思進), president of Shanxi Medical University, welcomed them [1].",
)
CHAIRED_ZH = _turn("谁主持了会议？", "汪静教授主持了会议[1]。")


@pytest.mark.parametrize(
    ("question", "resolved"),
    [
        ("Which society was he chairing?", "Which society was Li Sijin chairing?"),
        ("What did his speech stress?", "What did Li Sijin's speech stress?"),
        ("Where did the organisers seat him?", "Where did the organisers seat Li Sijin?"),
    ],
)  # fmt: skip
def test_english_pronoun_becomes_the_person_the_answer_named(question: str, resolved: str) -> None:
    assert resolve_person(question, WELCOMED) == resolved


def test_her_is_possessive_before_a_noun_and_an_object_otherwise() -> None:
    history = _turn("Who chaired the session?", "Professor Wang Jing chaired it [1].")
    assert resolve_person("What did her team win?", history) == "What did Wang Jing's team win?"
    assert (
        resolve_person("Who thanked her for it?", history) == "Who thanked her for it?"
    )  # asks who
    assert resolve_person("Was a prize given to her?", history) == "Was a prize given to Wang Jing?"


def test_chinese_pronoun_is_written_in_the_question_script() -> None:
    assert resolve_person("她在哪家医院工作？", CHAIRED_ZH) == "汪静在哪家医院工作？"
    assert resolve_person("她在哪家醫院工作？", CHAIRED_ZH) == "汪靜在哪家醫院工作？"


def test_a_person_named_only_in_the_question_turn_counts() -> None:
    history = _turn(
        "清華大學的劉亞強教授在論壇上講了什麼？", "他就「醫工交叉助力核醫學」作了報告[1]。"
    )
    assert (
        resolve_person("他在哪個學會擔任副主任委員？", history)
        == "劉亞強在哪個學會擔任副主任委員？"
    )


def test_english_question_gets_the_pinyin_of_a_name_written_in_characters() -> None:
    assert (
        resolve_person("Which hospital is she from?", CHAIRED_ZH)
        == "Which hospital is Wang Jing from?"
    )


@pytest.mark.parametrize(
    "question",
    [
        "他们在哪里工作？",  # plural
        "其他专家是谁？",  # 其他 is "other", not a person
        "Where was the meeting held?",  # no pronoun
        "Which academician spoke there, and which institute is he from?",  # its own person
        "谁接替了她的职务？",  # asks for a person before the pronoun
        "Did Zhang Ping say he would attend?",  # names someone itself
    ],
)
def test_questions_left_as_asked(question: str) -> None:
    assert resolve_person(question, WELCOMED) == question
    assert resolve_person(question, CHAIRED_ZH) == question


def test_no_history_or_several_people_leave_the_question_as_asked() -> None:
    assert resolve_person("What did he say?", []) == "What did he say?"
    assert resolve_person("What did he say?", None) == "What did he say?"
    several = _turn("Who spoke?", "Li Sijin and Wang Jing spoke [1].")
    assert resolve_person("What did he say?", several) == "What did he say?"


def test_only_the_last_exchange_names_the_person() -> None:
    history = [*WELCOMED, *_turn("Where was it held?", "In Taiyuan [1].")]
    assert resolve_person("What did he say?", history) == "What did he say?"
