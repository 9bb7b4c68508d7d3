"""The relevance gate on a turn with history, over the real store and retriever with the fake
embedder: history helps a follow-up find its subject, never an off-topic question pass."""

from __future__ import annotations

import pytest

from service.answering import Answerer
from service.followup import refers_back, retrieval_query
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
    assert retrieval_query(question, HISTORY) == f"{ON_TOPIC}\n{question}"


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "How do I bake bread?",
        "Write a Python function that sorts a list.",
        "Who won the 2018 World Cup?",
        OFF_TOPIC,
        "今天天气怎么样？",
        "我应该学习其他语言吗？",  # 应该, 其他: not pronouns
    ],
)
def test_a_question_that_names_its_own_subject_is_searched_alone(question: str) -> None:
    assert not refers_back(question)
    assert retrieval_query(question, HISTORY) == question


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


def test_a_follow_up_is_still_searched_with_the_question_it_follows(
    answerer: Answerer,
) -> None:
    answerer.retriever.min_dense_score = _best(answerer, f"{ON_TOPIC}\n{FOLLOW_UP}") - 1e-6
    retrieval = answerer.retrieve(FOLLOW_UP, 4, history=HISTORY)
    assert retrieval.relevant
    assert retrieval.queries == [f"{ON_TOPIC}\n{FOLLOW_UP}"]
    assert retrieval.hits[0].doc_id == FORUM
