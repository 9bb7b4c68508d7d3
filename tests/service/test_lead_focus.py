"""The leading sentence holds what the question quotes, and numbers an edition when it asks
which one: unit tests of the tests, and the answerer's choice over the bundled collection."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.backend import SearchView
from index.documents import Chunk
from service.lead_focus import SentenceTest, asked_posts, lead_focus, lead_tests, quoted_terms
from service.passages import SearchHit
from tests.service.conftest import build_fake_answerer, make_settings


@pytest.mark.parametrize(
    ("queries", "terms"),
    [
        (["拿到“创新应用奖”的是哪几家单位？"], ("创新应用奖",)),
        (["「創新應用獎」頒給了哪些醫院？"], ("创新应用奖",)),
        (["Who won the 'Best Image of the Year' prize?"], ("best image of the year",)),
        (["Who won the ‘Best Image’ prize?", "谁获得了'最佳图像'奖？"], ("best image", "最佳图像")),
        (['Which "five values"?', "哪“五元价值”？"], ("five values", "五元价值")),
        # Apostrophes are not quotes.
        (["Which hospital in Xi'an did Wang's team visit?"], ()),
        (["Which hospital in Xi'an hosted 'the forum'?"], ("the forum",)),
        (["What did he say about “AI”, and “X”?"], ("ai",)),  # one character is no term
        (["年会在哪里举办？"], ()),
    ],
)
def test_the_terms_a_question_or_its_translation_quotes(
    queries: list[str], terms: tuple[str, ...]
) -> None:
    assert quoted_terms(queries) == terms


def _one(queries: list[str]) -> SentenceTest:
    """The question's one focus test."""
    tests = lead_focus(queries)
    assert len(tests) == 1, tests
    return tests[0]


def test_a_question_quoting_nothing_and_asking_no_edition_or_post_has_no_focus() -> None:
    assert lead_focus(["年会在哪个城市举办？", "Which city hosted the meeting?"]) == []
    assert lead_focus(["主持人在会上讲了什么？"]) == []  # a post, not asked who held it
    assert lead_focus([]) == []


def test_the_quoted_term_must_be_held_in_either_script_and_any_case() -> None:
    focus = _one(["拿到“创新应用奖”的是哪几家单位？", "Who won the “Innovation Award”?"])
    assert focus("“創新應用獎”獲獎單位:復旦大學附屬中山醫院。")
    assert focus("The INNOVATION AWARD went to three hospitals.")
    assert not focus("會議還進行了匠心同行SPECT病例大賽頒獎儀式。")


def test_asked_which_edition_the_sentence_must_number_another_than_the_questions() -> None:
    focus = _one(["和第二十一次核医学学术会议一起举办的交流会是第几届？"])
    assert focus("四川省医学会第二十一核医学学术会议 暨第四届核医学精准诊疗医工融合学术交流会")
    assert not focus("四川省医学会第二十一次核医学学术会议在成都召开。")  # the question's own
    assert not focus("会议于2024年11月29日召开，共有三百人参加。")  # numbers no edition
    english = _one(["Which edition of the exchange meeting was held with the 21st one?"])
    assert english("It was the fourth exchange meeting.")


@pytest.mark.parametrize(
    ("queries", "posts"),
    [
        (["核醫學技術與護理專場的主持人是誰？"], {("主持", "")}),
        (["四川省肿瘤医院的党委书记是谁？"], {("书记", "")}),
        (["Who is the Party secretary of the hospital?"], {("书记", "")}),
        (["哪位副校长主持了会议？"], {("校长", "副"), ("主持", "")}),
        (["Who presided over the opening ceremony?"], {("主持", "")}),
        (["谁在开幕式上致辞？"], set()),  # asks who, names no post
        (["医院的院长在会上讲了什么？"], set()),  # names a post, asks not who held it
    ],
)
def test_the_posts_a_who_question_asks_about(
    queries: list[str], posts: set[tuple[str, str]]
) -> None:
    assert asked_posts(queries) == posts


def test_asked_who_held_a_post_the_sentence_must_give_it_in_either_language() -> None:
    chaired = _one(["核醫學技術與護理專場的主持人是誰？"])
    assert chaired("会议由四川大学华西医院核医学学科的李玉豪老师担任主持。")
    assert chaired("Prof. Liu Chun presided over the opening ceremony.")
    assert not chaired("本次会议特设了技术与护理两大分会场。")
    assert not chaired("The forum was hosted by the university.")  # organised, not chaired
    elect = _one(["Who was president-elect of the nuclear medicine branch?"])
    assert elect("中國核學會核醫學分會候任理事長、哈爾濱醫科大學趙長久教授")
    assert not elect("中國核學會核醫學分會理事長李方教授")  # the post, not its rank


def test_a_vice_president_is_not_the_president_asked_about() -> None:
    president = _one(["Who was president of the university?", "大学的校长是谁？"])
    assert president("山西醫科大學校長李思進教授")
    assert not president("會議由山西醫科大學副校長王宏偉教授主持。")


def test_every_test_together_comes_first_then_each_alone() -> None:
    quoted, edition = lead_focus(["“医工融合”交流会是第几届？"])
    assert quoted("医工融合学术交流会") and not edition("医工融合学术交流会")
    assert edition("第四届知识竞赛") and not quoted("第四届知识竞赛")

    def kind(text: str) -> bool:
        return "会" in text

    together, *alone = lead_tests([quoted, edition], kind)
    assert alone == [quoted, edition, kind]
    assert together("第四届医工融合学术交流会")
    assert not together("第四届医工融合") and not together("第四届知识竞赛会")
    assert lead_tests([], kind) == [kind] and lead_tests([quoted], None) == [quoted]
    assert lead_tests([], None) == []


def _passage(snapshot: SearchView, doc_prefix: str, key: str, before: int) -> SearchHit:
    """A hit on the passage of the bundled document around `key`, starting `before` characters
    ahead of it, as retrieval would find it."""
    doc_id = next(d for d in snapshot.documents if d.startswith(doc_prefix))
    text = snapshot.document_text(doc_id)
    start = max(0, text.index(key) - before)
    end = min(len(text), start + 700)
    chunk = Chunk(f"{doc_id}#0", doc_id, 0, text[start:end], start, end, title=doc_id)
    return SearchHit(chunk, 0.9, dense_score=0.9)


def test_the_lead_is_the_sentence_holding_the_quoted_award(tmp_path: Path) -> None:
    """The passage of the Taiyuan report listing the SPECT competition's awards: the sentence
    about the ceremony shares the question's words, the one naming the quoted award answers."""
    answerer = build_fake_answerer(make_settings(tmp_path))
    hit = _passage(answerer.snapshot, "000_", "會議還進行了匠心同行", 200)
    for question in (
        "匠心同行SPECT病例大赛里，“创新应用奖”颁给了哪些医院？",
        "Which hospitals won the competition's “创新应用奖”?",
    ):
        lead = answerer._lead(answerer.snapshot, question, [question], [hit])
        assert lead.hits[0].text.startswith("“創新應用獎”獲獎單位"), (question, lead.hits[0].text)


def test_the_lead_numbers_the_edition_asked_for(tmp_path: Path) -> None:
    """The Sichuan report's title line numbers the exchange meeting held with the 21st
    conference; the sentences around it number the conference or none."""
    answerer = build_fake_answerer(make_settings(tmp_path))
    hit = _passage(answerer.snapshot, "003_", "暨第四届核医学精准诊疗", 300)
    question = "与四川省医学会第二十一次核医学学术会议同时举办的医工融合学术交流会是第几届？"
    lead = answerer._lead(answerer.snapshot, question, [question], [hit])
    assert "第四届" in lead.hits[0].text, lead.hits[0].text
