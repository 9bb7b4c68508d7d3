"""《Titles》 an answer miscopied from the passages, written as the passages write them."""

from __future__ import annotations

import pytest

from service.claims import check_claims
from service.passages import Passage
from service.title_spelling import respell_titles
from tests.service.conftest import streamed

# As the damaged traditional-script article gives them (cleaned), two talks of one session.
TEXT = (
    "其中,中國工程院院士鄧建軍作《醫工融合是核醫療創新的關鍵》報告,"
    "四川省醫藥行業協會副會長張忠輝作《四川核醫藥產業發展現狀》報告。"
)


def passage(n: int, text: str) -> Passage:
    """Passage `n`, a whole document of its own."""
    return Passage.of(n, f"{n}.txt", f"{n}.txt#1", f"document {n}", text, 0, len(text), 0.5)


PASSAGES = [passage(1, TEXT)]


@pytest.mark.parametrize(
    ("language", "written", "respelled"),
    [
        # The question's 医工结合 slipped into the title; in the answer's script.
        (
            "zh-Hans",
            "邓建军作了《医工结合是核医疗创新的关键》报告[1]。",
            "邓建军作了《医工融合是核医疗创新的关键》报告[1]。",
        ),
        (
            "zh-Hant",
            "鄧建軍作了《醫工結合是核醫療創新的關鍵》報告[1]。",
            "鄧建軍作了《醫工融合是核醫療創新的關鍵》報告[1]。",
        ),
        # An English answer keeps the passage's own characters.
        (
            "en",
            "Deng Jianjun spoke on 《医工结合是核医疗创新的关键》 [1].",
            "Deng Jianjun spoke on 《醫工融合是核醫療創新的關鍵》 [1].",
        ),
        # A character dropped.
        (
            "zh-Hans",
            "张忠辉作了《四川核医产业发展现状》报告[1]。",
            "张忠辉作了《四川核医药产业发展现状》报告[1]。",
        ),
    ],
)
def test_a_miscopied_title_is_written_as_the_passage_writes_it(
    language: str, written: str, respelled: str
) -> None:
    assert respell_titles(written, PASSAGES, language) == respelled  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kept",
    [
        "邓建军作了《医工融合是核医疗创新的关键》报告[1]。",  # right, in the other script
        "邓建军作了《核医学的未来》报告[1]。",  # like no passage title
        "邓建军作了《医工融合》报告[1]。",  # a part, not one character in five off
        "邓建军作了医工结合是核医疗创新的关键的报告[1]。",  # no title marks
    ],
)
def test_what_is_not_a_miscopied_passage_title_stays(kept: str) -> None:
    assert respell_titles(kept, PASSAGES, "zh-Hans") == kept


def test_a_title_as_like_two_passage_titles_stays() -> None:
    passages = [passage(1, "甲作《核医学发展报告A》。"), passage(2, "乙作《核医学发展报告B》。")]
    written = "他作了《核医学发展报告C》[1]。"
    assert respell_titles(written, passages, "zh-Hans") == written


def test_no_titles_in_the_passages_leaves_the_answer() -> None:
    written = "他作了《核医学发展报告》[1]。"
    assert respell_titles(written, [passage(1, "没有书名号的段落。")], "zh-Hans") == written


def test_the_claim_check_respells_titles_in_every_language() -> None:
    written = "邓建军作了《医工结合是核医疗创新的关键》报告[1]。"
    assert "《医工融合是核医疗创新的关键》" in check_claims(written, PASSAGES, "zh-Hans")


def test_a_streamed_answer_leaves_with_the_title_respelled() -> None:
    pieces = ["邓建军作了《医工结合", "是核医疗创新的关键》", "报告[1]。"]
    sent = streamed(PASSAGES, "zh-Hans", "邓建军在医工结合分会场作了什么报告？", pieces)
    assert sent == "邓建军作了《医工融合是核医疗创新的关键》报告[1]。"
