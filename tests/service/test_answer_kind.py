"""The expected answer kind: a question asking how many, when or where is answered only by an
answer stating a quantity, a time or a place the question does not already state."""

from __future__ import annotations

import pytest

from service.answer import postprocess
from service.answer_kind import AnswerKind, answers_kind, asked_kinds, states_every_kind
from service.passages import Passage

Q, T, P = AnswerKind.QUANTITY, AnswerKind.TIME, AnswerKind.PLACE


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("How many teams reached the final?", {Q}),
        ("How much did the new scanner cost?", {Q}),
        ("大会共评出几个奖项？", {Q}),
        ("有多少名醫生參加了培訓？", {Q}),
        ("When did the forum open?", {T}),
        ("In which year was the centre founded?", {T}),
        ("What were the dates of the annual meeting?", {T}),
        ("On which days does the club train?", {T}),
        ("研讨会是什么时候举行的？", {T}),
        ("培訓班幾月開班？", {T}),
        ("Where was the workshop held?", {P}),
        ("Which city hosted the meeting?", {P}),
        ("年会在哪个城市举办？", {P}),
        ("「創新應用獎」頒給了哪些醫院？", {P}),
        ("頒獎典禮在哪裡舉行？", {P}),
        ("會議是何時、在哪裡舉行的？", {T, P}),
        ("How long did the keynote last?", {Q}),
        ("报告持续了多长时间？", {Q}),
        ("新院区有多大面积？", {Q}),
        ("这项技术对患者有多大帮助？", set()),  # how much help: not a figure
        ("When and where was the forum held?", {T, P}),
        ("Where to book the tours?", {P}),
        ("What did the dean say when he opened the forum?", set()),  # when as a conjunction
        ("When the forum opened, who spoke first?", set()),
        ("What is the hall where the award was given called?", set()),
        ("Who chaired the session?", set()),
        ("会上有哪几位专家作了报告？", set()),  # which ones: names, not a count
        ("What was the theme of the conference?", set()),
    ],
)
def test_the_kind_a_question_asks_for(question: str, kinds: set[AnswerKind]) -> None:
    assert asked_kinds(question) == kinds


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("How many teams reached the final?", "Twelve teams reached the final [1]."),
        ("How many teams reached the final?", "The final was reached by 12 teams [1]."),
        ("大会共评出几个奖项？", "大会共评出三个奖项[1]。"),
        ("有多少名醫生參加了培訓？", "近百名醫生參加了培訓[1]。"),
        ("有多少名醫生參加了培訓？", "共有2,300名醫生參加[1]。"),
        ("中心完成了多少例手术？", "中心已完成三百例手术[1]。"),
        ("When did the forum open?", "It opened on the morning of 3 May [1]."),
        ("On which days does the club train?", "It trains on Tuesdays and Thursdays [1]."),
        ("研讨会是什么时候举行的？", "研讨会于今年秋季举行[1]。"),
        ("培訓班幾月開班？", "培訓班於十月開班[1]。"),
        ("Where was the workshop held?", "The workshop was held in Lanzhou [1]."),
        ("年会在哪个城市举办？", "年会在昆明举办[1]。"),
        ("頒獎典禮在哪裡舉行？", "頒獎典禮在市民中心禮堂舉行[1]。"),
        ("该校与哪所大学合作？", "该校与南方科技大学合作[1]。"),
        ("會議是何時、在哪裡舉行的？", "會議於5月舉行[1]。"),  # one kind of two is stated
        ("Where are tickets sold?", "Tickets are sold at https://tickets.example/fair [1]."),
        ("Who chaired the session?", "Professor Zhang chaired it [1]."),
    ],
)
def test_an_answer_stating_the_kind_asked_for_answers(question: str, answer: str) -> None:
    assert answers_kind(question, answer)


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        # No number at all, or only an ordinal: how many is not answered.
        ("有多少家企业参展？", "企业代表表示，希望借此次会议契机共同发展[1]。"),
        ("冠軍隊獲得了多少獎金？", "冠軍隊表現出色，榮獲第一名[1]。"),
        ("How many patients were treated?", "The patients were treated at the new centre [1]."),
        # The only number is the question's own: restating it states no quantity.
        ("2022年的年会有多少人参会？", "2022年的年会有众多专家参会[1]。"),
        ("When will the next forum be held?", "The next forum will be held by the society [1]."),
        ("第五屆論壇將在哪裡舉辦？", "第五屆論壇將繼續推動學科交流與合作[1]。"),
        ("Where was the Lanzhou workshop held?", "The Lanzhou workshop was held successfully [1]."),
        # Months and weekdays are capitalised, but no place.
        ("Where was the forum held?", "The forum was held on Monday, November 26 [1]."),
    ],
)
def test_an_answer_without_the_kind_asked_for_does_not_answer(question: str, answer: str) -> None:
    assert not answers_kind(question, answer)


def _passage(text: str) -> Passage:
    return Passage.of(
        n=1,
        doc_id="forum.txt",
        chunk_id="forum.txt#0",
        title="论坛",
        text=text,
        start=0,
        end=len(text),
        score=0.5,
    )


def test_a_cited_answer_that_states_no_quantity_asked_for_is_the_refusal() -> None:
    passage = _passage("企业代表表示，希望借此次会议契机共同发展。展区设在一楼大厅。")
    cited = postprocess(
        "企业代表表示，希望借此次会议契机共同发展[1]。", [passage], "zh-Hans", "有多少家企业参展？"
    )
    assert cited.refused and cited.citations == []
    assert cited.answer == "文档中没有找到这个问题的答案。"


def test_the_same_answer_to_a_question_asking_no_kind_stands() -> None:
    passage = _passage("企业代表表示，希望借此次会议契机共同发展。")
    cited = postprocess(
        "企业代表表示，希望借此次会议契机共同发展[1]。", [passage], "zh-Hans", "企业代表说了什么？"
    )
    assert not cited.refused and [c.passage.doc_id for c in cited.citations] == ["forum.txt"]


@pytest.mark.parametrize(
    ("question", "text", "every"),
    [
        ("When and where was the conference held?", "It was held on November 26th.", False),
        ("When and where was the conference held?", "It opened in Chengdu on 29 November.", True),
        ("年会是什么时候、在哪里举办的？", "年会于11月29日在成都举办。", True),
        ("年会是什么时候、在哪里举办的？", "年会于11月29日举办。", False),
        ("有多少人参加？", "近150人参加了会议。", True),
        ("谁主持了会议？", "会议由王宏伟教授主持。", True),  # no kind asked
        # Asked which city: an institution is a place, but no city.
        ("第一届论坛在哪个城市举办？", "大会期间，举办了协同创新中心第一届学术委员会会议。", False),
        ("第一屆論壇在哪個城市舉辦？", "第二屆論壇在太原舉辦。", True),
        ("论坛在哪里举办？", "大会期间，举办了协同创新中心第一届学术委员会会议。", True),
        ("年会在哪个省份举办？", "年会在四川省成都市举办。", True),
        ("四川省年会在哪个城市举办？", "四川年会召开。", False),  # the question's own province
        ("Which city hosted the forum?", "The forum was held in Taiyuan.", True),
    ],
)
def test_a_text_states_every_kind_asked_or_not(question: str, text: str, every: bool) -> None:
    """What the leading sentence must state to be read alone (`lead_first`): each kind asked,
    where `answers_kind` takes any one."""
    assert states_every_kind(question, text) is every
