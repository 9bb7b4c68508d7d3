"""Terms an English answer half translated from the passages, written whole (real jieba tagger
and CC-CEDICT dictionary)."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.passages import Passage
from service.term_spelling import respell_terms
from tests.service.conftest import streamed

TEXT = (
    "进入决赛的有核医之光队、勇者无敌队和核力不凡队。空军军医大学西京医院汪静教授作报告。"
    "医院与上海联影医疗科技股份有限公司签约。林丽表示要加强跨界合作。"
    "中国医师协会核医学医师分会会长致辞。田蓉教授主持开幕式。"
)


def passage(n: int, text: str) -> Passage:
    """Passage `n`, a whole document of its own."""
    return Passage.of(n, f"{n}.txt", f"{n}.txt#1", f"document {n}", text, 0, len(text), 0.5)


PASSAGES = [passage(1, TEXT)]


def respell(text: str) -> str:
    return respell_terms(text, PASSAGES)


@pytest.mark.parametrize(
    ("written", "whole"),
    [
        # The words before the characters translate the term's missing first characters.
        (
            "The finalists were the nuclear medicine 之光队 and 勇者无敌队 [1].",
            "The finalists were the 核医之光队 and 勇者无敌队 [1].",
        ),
        ("She is from the West 京医院 [1].", "She is from the 西京医院 [1]."),
        # ... or on both sides: 西 and 医院, "of" left as it was.
        (
            "The West 京 Hospital of Air Force Medical University.",
            "The 西京医院 of Air Force Medical University.",
        ),
        (
            "It signed with Shanghai 联影医疗科技股份有限公司.",
            "It signed with 上海联影医疗科技股份有限公司.",
        ),
        (
            "He leads the Chinese Medical Association Nuclear Medicine 医师分会[2].",
            "He leads the Chinese Medical Association 核医学医师分会[2].",
        ),
    ],
)
def test_a_half_translated_term_is_written_as_the_passage_writes_it(
    written: str, whole: str
) -> None:
    assert respell(written) == whole


@pytest.mark.parametrize(
    "kept",
    [
        "Lin Li said they must strengthen 跨界 cooperation [1].",  # 加强 is a verb, not a name
        "Professor Tan Yong 主持开幕式[1].",  # the words do not translate 田蓉教授
        "The finalists were 核医之光队 and 勇者无敌队 [1].",  # whole already
        "The finalists were the Nuclear Medicine Light Team [1].",  # no characters at all
        "The finalists were the team of 北核亮翅队 [1].",  # not in the passages
        "The finalists were the nuclear medicine team from 成都 (核医之光队) [1].",
    ],
)
def test_what_is_not_a_half_translated_term_of_the_passages_stays(kept: str) -> None:
    assert respell(kept) == kept


def test_a_term_the_passages_continue_in_two_ways_stays() -> None:
    """Two passages continue 之光队 differently (核医, 核医学), and the words translate both."""
    other = "核医学之光队获奖。"
    passages = [*PASSAGES, passage(2, other)]
    written = "The finalists were the nuclear medicine 之光队 [1]."
    assert respell_terms(written, passages) == written


def test_traditional_passages_give_their_own_characters() -> None:
    text = "空軍軍醫大學西京醫院汪靜教授作報告。"
    assert (
        respell_terms("She is from the West 京醫院.", [passage(1, text)])
        == "She is from the 西京醫院."
    )


def test_the_claim_check_writes_terms_whole_in_english_answers_only() -> None:
    written = "She is from the West 京医院 [1]."
    assert "the 西京医院" in check_claims(written, PASSAGES, "en")
    chinese = "她来自西京医院[1]。"
    assert check_claims(chinese, PASSAGES, "zh-Hans") == chinese


def test_a_streamed_answer_leaves_with_the_term_whole() -> None:
    pieces = ["She is from the West", " 京医院 [1]", ".", " She spoke."]
    sent = streamed(PASSAGES, "en", "Which hospital is Wang Jing from?", pieces)
    assert sent == "She is from the 西京医院 [1]. She spoke."
