"""Sentences that say nothing the question did not, or tell of another edition than the one
asked about, are dropped (service.claims, index.editions)."""

from __future__ import annotations

import pytest

from index.editions import other_edition
from service.answer import postprocess
from service.passages import Passage
from tests.service.conftest import passage_of_document

FORUM = "第二届全国分子影像精准诊疗协同创新高峰论坛于4月28日至29日在太原举办。"


def passage(text: str, n: int = 1) -> Passage:
    return passage_of_document(n, text, title="论坛", score=1.0)


def test_a_sentence_that_only_says_the_question_back_is_dropped() -> None:
    question = "陈跃教授在闭幕式上提出的工作计划具体包括哪些内容？"
    text = "陈跃教授在闭幕式上提出了第十届专委会工作计划。"
    echoed = postprocess("工作计划具体包括：工作计划[1]。", [passage(text)], "zh-Hans", question)
    assert echoed.refused
    english = postprocess(
        "The exchange meeting was held together with the 21st Sichuan conference [1].",
        [passage("The fourth exchange meeting was held together with the 21st conference.")],
        "en",
        "Which edition of the exchange meeting was held together with the 21st Sichuan conference?",
    )
    assert english.refused


def test_an_answer_with_something_new_or_to_a_yes_no_question_is_kept() -> None:
    answered = postprocess("论坛在太原举办[1]。", [passage(FORUM)], "zh-Hans", "论坛在哪里举办？")
    assert not answered.refused and "太原" in answered.answer
    yes = postprocess(
        "第二届论坛在太原举办[1]。", [passage(FORUM)], "zh-Hans", "第二届论坛在太原举办吗？"
    )
    assert not yes.refused


@pytest.mark.parametrize(
    ("claim", "question", "other"),
    [
        ("第二屆論壇是在太原舉辦的[1]。", "第一屆論壇是在哪個城市舉辦的？", True),
        ("The second forum was held in Taiyuan [1].", "Where was the first forum held?", True),
        ("第二届论坛在太原举办[1]。", "第二届论坛在哪里举办？", False),
        ("论坛在太原举办[1]。", "第一届论坛在哪里举办？", False),  # numbers none: not judged
        ("是第四届[1]。", "和第二十一次会议一起举办的交流会是第几届？", False),  # asks which
    ],
)
def test_a_sentence_about_another_edition(claim: str, question: str, other: bool) -> None:
    assert other_edition(claim, question) is other


def test_an_answer_about_another_edition_is_refused() -> None:
    question = "第一屆全國分子影像精準診療協同創新高峰論壇是在哪個城市舉辦的？"
    reply = "第二屆全國分子影像精準診療協同創新高峰論壇是在太原舉辦的[1]。"
    assert postprocess(reply, [passage(FORUM)], "zh-Hant", question).refused
