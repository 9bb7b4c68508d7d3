"""Edition numbers of recurring events in questions and articles (index.editions)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from index.editions import asks_edition, editions_asked, editions_unknown, states_edition


@pytest.mark.parametrize(
    ("question", "numbers"),
    [
        ("第三屆全國分子影像精準診療協同創新高峰論壇預計什麼時候舉辦？", {3}),
        ("第十四届医工协同科技创新学术年会在哪里举办？", {14}),
        ("What were the dates of the 21st Sichuan nuclear medicine conference?", {21}),
        ("At the thirteenth annual conference, who spoke first?", {13}),
        ("the second national molecular imaging summit forum", {2}),
        # Not an edition: a term of office, a place in a ranking, the first edition.
        ("Which hospital is the tenth-term chair of the society from?", set()),
        ("Who won third place in the quiz?", set()),
        ("When was the first edition held? 首届是哪一年？第一届呢？", set()),
    ],
)
def test_the_editions_a_question_gives(question: str, numbers: set[int]) -> None:
    assert editions_asked(question) == numbers


def test_an_article_states_an_edition_in_any_script_or_with_a_scraped_typo() -> None:
    assert states_edition(13, "第十三届医工协同科技创新学术年会")
    assert states_edition(2, "第二屆全國分子影像精準診療協同創新高峰論壇")
    assert states_edition(21, "四川省医学会第二十一一次核医学学术会议")  # as the page writes it
    assert states_edition(21, "the 21st Sichuan conference")
    assert not states_edition(3, "第二届论坛与第十三届年会")


def test_an_edition_no_document_numbers_is_unknown() -> None:
    texts = ["第二届全国分子影像精准诊疗协同创新高峰论坛于4月28日在太原举办。"]
    assert editions_unknown("第三届论坛什么时候举办？", texts) == [3]
    assert editions_unknown("第二届论坛什么时候举办？", texts) == []
    assert editions_unknown("论坛什么时候举办？", texts) == []


def test_documents_are_read_only_for_a_question_giving_an_edition() -> None:
    def texts() -> Iterator[str]:
        raise AssertionError("read")
        yield ""

    assert editions_unknown("论坛什么时候举办？", texts()) == []


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("交流会是第几届？", True),
        ("這是哪一屆論壇？", True),
        ("Which edition of the exchange meeting was it?", True),
        ("第十三届年会在哪里举办？", False),
        ("What was the topic of the 13th annual conference?", False),
    ],
)
def test_a_question_asking_which_edition(question: str, asks: bool) -> None:
    assert asks_edition(question) is asks
