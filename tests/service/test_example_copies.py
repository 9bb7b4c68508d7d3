"""An answer may not state what only the prompt's worked examples say (service.answer_guard)."""

from __future__ import annotations

from service.answer import postprocess
from service.answer_guard import copies_example, evidence
from service.passages import Passage
from tests.service.conftest import passage_of_document

FORUM = "第二届分子影像高峰论坛于4月28日至29日在太原举办，约150人参加。"


def passage(text: str, n: int = 1) -> Passage:
    return passage_of_document(n, text, title="论坛", score=1.0)


def test_a_venue_taken_from_a_worked_example_is_dropped() -> None:
    """The book-fair example's 会展中心 is no venue of the passage: the answer is refused."""
    question = "第二届分子影像高峰论坛是在太原哪家会议中心举行的？"
    copied = postprocess("论坛是在太原的會展中心舉行的[1]。", [passage(FORUM)], "zh-Hans", question)
    assert copied.refused
    stated = postprocess("论坛在太原举办[1]。", [passage(FORUM)], "zh-Hans", question)
    assert not stated.refused and "太原" in stated.answer


def test_an_example_persons_name_is_dropped_in_either_script() -> None:
    found = evidence([passage(FORUM)], "Who chaired it?")
    assert copies_example("It was chaired by Vice Mayor Li Hua (李华) [1].", found)
    assert copies_example("It was chaired by Li Hua [1].", found)
    assert not copies_example("About 150 people attended [1].", found)


def test_what_the_passages_also_say_is_kept() -> None:
    """A term the examples share with the documents is the documents' own."""
    text = "开幕式由李华教授主持，会议在会展中心举行。"
    found = evidence([passage(text)], "谁主持了开幕式？")
    assert not copies_example("开幕式由李华教授主持[1]。", found)
    assert not copies_example("会议在会展中心举行[1]。", found)


def test_the_question_counts_as_a_source() -> None:
    found = evidence([passage(FORUM)], "李华教授参加了论坛吗？")
    assert not copies_example("李华教授参加了论坛[1]。", found)
