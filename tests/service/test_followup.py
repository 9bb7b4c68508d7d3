"""Follow-ups, over the real store and retriever with the fake embedder: a question that
refers back or names nothing of its own is searched within the document of the last question
that named its subject, and history never makes an off-topic question pass the relevance
gate."""

from __future__ import annotations

import pytest

from service.answering import Answerer
from service.followup import SearchPlan, elliptical, refers_back, search_plan
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

ON_TOPIC = "第二届全国分子影像精准诊疗协同创新高峰论坛在哪里举办？"
HISTORY = [
    {"role": "user", "content": ON_TOPIC},
    {"role": "assistant", "content": "在太原举办[1]。"},
]
OFF_TOPIC = "法国的首都是哪里？"  # What is the capital of France?
FOLLOW_UP = "那次会议是谁主持的？"
FORUM = "000_09db86074c66971f.txt"


@pytest.mark.parametrize(
    "question",
    [
        "And who chaired it?",
        "When was it held?",
        "Which society was he chairing at the time?",
        "When did the school hold the first edition of that?",
        "What was said at that meeting?",
        "那次会议大概有多少人参加？",
        "他提到研究院聚焦的重点建设任务是什么？",
        "那北京呢？",
        "那經過第二輪遴選後還剩下多少項？",
    ],
)
def test_a_question_that_refers_back_is_recognised(question: str) -> None:
    assert refers_back(question)
    assert search_plan(question, HISTORY) == SearchPlan(ON_TOPIC, judge_alone=False)
    assert search_plan(question, []) == SearchPlan()  # nothing to refer back to


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Write a Python function that sorts a list.",
        "Who won the 2018 World Cup?",
        OFF_TOPIC,
        "第十三届医工协同科技创新学术年会的开幕式是谁主持的？",  # an ordinal
        "「川渝核医学」公众号是谁主办的？",  # a quoted title
        "核醫學技術與護理專場的主持人是誰？",  # enough words of its own
        "閉幕式上正式揭牌上線的微信公眾號叫什麼名字？",
        "What are the 'five values' the advances were compared on?",
    ],
)
def test_a_question_that_names_its_own_subject_is_searched_alone(question: str) -> None:
    assert not refers_back(question) and not elliptical(question)
    assert search_plan(question, HISTORY) == SearchPlan()


@pytest.mark.parametrize(
    "question",
    [
        "开幕式是谁主持的？",
        "開幕式是誰主持的？",
        "一共有几支队伍参加？",
        "Who chaired the opening ceremony?",
        "Who presided over the opening ceremony?",
        "How many teams took part?",
        # Off topic, and elliptical too: judged alone, so the history cannot let them pass.
        "今天天气怎么样？",
        "How do I bake bread?",
        "我应该学习其他语言吗？",  # 应该, 其他: not pronouns
    ],
)
def test_an_elliptical_question_is_searched_as_a_follow_up_but_judged_alone(
    question: str,
) -> None:
    assert not refers_back(question) and elliptical(question)
    assert search_plan(question, HISTORY) == SearchPlan(ON_TOPIC, judge_alone=True)
    assert search_plan(question, None) == SearchPlan()


def test_a_follow_up_of_a_follow_up_keeps_the_subject_the_conversation_named() -> None:
    history = [
        *HISTORY,
        {"role": "user", "content": "开幕式是谁主持的？"},
        {"role": "assistant", "content": "李思进[1]。"},
        {"role": "user", "content": "那次会议有多少人参加？"},
        {"role": "assistant", "content": "近150人[1]。"},
    ]
    assert search_plan("他在会上讲了什么？", history) == SearchPlan(ON_TOPIC, judge_alone=False)
    assert search_plan("闭幕式呢？", history) == SearchPlan(ON_TOPIC, judge_alone=False)
    assert search_plan("谁致的欢迎辞？", history) == SearchPlan(ON_TOPIC, judge_alone=True)
    other = "第十三届医工协同科技创新学术年会在哪里召开？"  # a new subject, named
    switched = [*history, {"role": "user", "content": other}]
    assert search_plan("他在会上讲了什么？", switched) == SearchPlan(other, judge_alone=False)
    # Nothing named yet: the conversation's first question is the best there is.
    vague = [{"role": "user", "content": "开幕式是谁主持的？"}]
    assert search_plan("他是谁？", vague) == SearchPlan("开幕式是谁主持的？", judge_alone=False)


@pytest.fixture(scope="module")
def answerer(tmp_path_factory: pytest.TempPathFactory) -> Answerer:
    settings = make_settings(tmp_path_factory.mktemp("followup"), cross_lingual=False)
    return build_fake_answerer(settings, generators=[FakeGenerator(cite_first_passage)])


def _best(answerer: Answerer, query: str) -> float:
    return max(h.dense_score or 0.0 for h in answerer.retrieve(query, 4).hits)


def test_history_does_not_make_an_off_topic_question_relevant(answerer: Answerer) -> None:
    alone = _best(answerer, OFF_TOPIC)
    with_history = _best(answerer, f"{ON_TOPIC}\n{OFF_TOPIC}")  # how it used to be searched
    assert alone < with_history  # the bug's premise: the earlier question lifts the score
    answerer.retriever.min_dense_score = (alone + with_history) / 2
    assert not answerer.retrieve(OFF_TOPIC, 4).relevant
    assert not answerer.retrieve(OFF_TOPIC, 4, history=HISTORY).relevant

    result = answerer.ask(OFF_TOPIC, history=HISTORY)
    assert result.refused and result.citations == []
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator) and generator.calls == []  # not asked


def test_a_follow_up_is_searched_within_the_previous_questions_document(
    answerer: Answerer,
) -> None:
    answerer.retriever.min_dense_score = _best(answerer, ON_TOPIC) - 1e-6
    retrieval = answerer.retrieve(FOLLOW_UP, 4, history=HISTORY)
    assert retrieval.relevant and retrieval.followup
    assert retrieval.queries == [FOLLOW_UP]  # the question itself, within the forum's report
    assert retrieval.hits and {h.doc_id for h in retrieval.hits} == {FORUM}
    alone = answerer.retrieve(FOLLOW_UP, 4)
    assert {h.doc_id for h in alone.hits} != {FORUM}  # the premise: alone it strays


ELLIPTICAL = "开幕式是谁主持的？"  # "Who chaired the opening ceremony?"


def test_an_elliptical_follow_up_is_read_from_the_conversations_document(
    answerer: Answerer,
) -> None:
    answerer.retriever.min_dense_score = 0.0
    retrieval = answerer.retrieve(ELLIPTICAL, 4, history=HISTORY)
    assert retrieval.relevant and retrieval.followup
    assert retrieval.hits and {h.doc_id for h in retrieval.hits} == {FORUM}
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    before = len(generator.calls)
    result = answerer.ask(ELLIPTICAL, history=HISTORY)
    assert len(generator.calls) > before  # the model read the forum's passages
    assert result.passages and {p.doc_id for p in result.passages} == {FORUM}


def test_an_elliptical_question_irrelevant_on_its_own_is_refused_with_history(
    answerer: Answerer,
) -> None:
    alone = _best(answerer, ELLIPTICAL)
    answerer.retriever.min_dense_score = alone + 1e-6  # on its own it is off topic
    assert _best(answerer, ON_TOPIC) >= answerer.retriever.min_dense_score  # the history is not
    retrieval = answerer.retrieve(ELLIPTICAL, 4, history=HISTORY)
    assert not retrieval.relevant and not retrieval.followup
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    before = len(generator.calls)
    result = answerer.ask(ELLIPTICAL, history=HISTORY)
    assert result.refused and result.citations == []
    assert len(generator.calls) == before  # not asked


def test_a_follow_ups_pronoun_is_searched_and_asked_as_the_person_named(
    answerer: Answerer,
) -> None:
    """The model reads "李思进…" where the user wrote "他…": the pronoun is the one person the
    last exchange named (service.coreference)."""
    answerer.retriever.min_dense_score = 0.0
    history = [
        {"role": "user", "content": ON_TOPIC},
        {"role": "assistant", "content": "在太原举办，山西医科大学校长李思进教授致欢迎辞[1]。"},
    ]
    question = "他担任哪个学会核医学分会的主任委员？"
    resolved = "李思进担任哪个学会核医学分会的主任委员？"
    retrieval = answerer.retrieve(question, 4, history=history)
    assert retrieval.followup and retrieval.question == resolved
    assert {h.doc_id for h in retrieval.hits} == {FORUM}
    assert retrieval.queries == [resolved]
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    before = len(generator.calls)
    answerer.ask(question, history=history)
    asked = generator.calls[before:]
    assert asked and all(resolved in str(m[-1]["content"]) for m in asked)
    assert not any(question in str(m[-1]["content"]) for m in asked)
    assert answerer.retrieve(ON_TOPIC, 4, history=history).question == ON_TOPIC  # not a follow-up
