"""People's names in English answers spelled as the passages' characters read."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.name_spelling import respell_names
from service.passages import Passage
from tests.service.conftest import streamed

TEXT = (
    "四川省肿瘤医院党委书记易群致辞。石洪成教授主持颁奖仪式。"
    "记者王鹏报道。王輝教授、李林教授参加比赛。"
)
PASSAGES = [Passage.of(1, "a.txt", "a.txt#1", "成都会议", TEXT, 0, len(TEXT), 0.5)]


def respell(text: str) -> str:
    return respell_names(text, PASSAGES)


@pytest.mark.parametrize(
    ("written", "spelled"),
    [
        ("The Party secretary is Easy Qun [1].", "The Party secretary is Yi Qun (易群) [1]."),
        ("It was chaired by Stone Hongcheng.", "It was chaired by Shi Hongcheng (石洪成)."),
        ("The speaker was Easy 群.", "The speaker was Yi Qun (易群)."),
        ("The speaker was Yi 群.", "The speaker was Yi Qun (易群)."),  # half in characters
        ("Ye Qun spoke first.", "Yi Qun (易群) spoke first."),
        # The characters given beside it say whom the model meant: only the spelling changes.
        ("Dr. Shao Hui (王輝) entered.", "Dr. Wang Hui (王輝) entered."),
    ],
)
def test_a_name_misspelled_from_the_passage_becomes_its_pinyin(written: str, spelled: str) -> None:
    assert respell(written) == spelled


@pytest.mark.parametrize(
    "kept",
    [
        "The Party secretary is Yi Qun [1].",  # already right
        "The Party secretary is Yi Qun (易群) [1].",
        "The report was written by Wang Peng.",  # right, and a reading of the passage
        "Professor Li spoke, then President Qun.",  # a title before one word: a surname
        "Chen Yongzhong (陈跃忠) closed it.",  # characters that name another person
        "Zhang Hui spoke.",  # two people of the passage could be meant, or neither
        "The Sichuan Cancer Hospital hosted it.",  # no name at all
    ],
)
def test_what_is_not_a_misspelled_name_of_the_passage_stays(kept: str) -> None:
    passages = [*PASSAGES, Passage.of(2, "b.txt", "b.txt#1", "B", "李辉教授发言。", 0, 7, 0.5)]
    assert respell_names(kept, passages) == kept


def test_english_passages_leave_the_answer_as_written() -> None:
    english = [Passage.of(1, "e.txt", "e.txt#1", "E", "Easy Qun won the prize.", 0, 23, 0.5)]
    assert respell_names("Easy Qun won [1].", english) == "Easy Qun won [1]."


def test_the_claim_check_respells_english_answers_only() -> None:
    assert "Yi Qun (易群)" in check_claims("The secretary is Easy Qun [1].", PASSAGES, "en")
    chinese = "书记是易群[1]。"
    assert check_claims(chinese, PASSAGES, "zh-Hans") == chinese


def test_a_streamed_answer_leaves_with_the_name_respelled() -> None:
    pieces = ["The Party secretary is Easy", " Qun [1]", ".", " He spoke."]
    sent = streamed(PASSAGES, "en", "Who is the Party secretary?", pieces)
    assert sent == "The Party secretary is Yi Qun (易群) [1]. He spoke."
