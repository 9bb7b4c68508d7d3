"""Follow-ups with the real default models, over HTTP: grounding holds on every turn.

An off-topic question after an on-topic turn is refused as it is without history, even one
that names nothing of its own; a follow-up, with a pronoun or elliptical ("开幕式是谁主持的？"),
is answered from the document its history is about.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from eval.items import DEFAULT_SET, EvalItem, load_items
from ragqa.config import Settings
from service.answering import Answerer
from service.app import create_app
from service.loopback import serve

pytestmark = pytest.mark.slow

ON_TOPIC = (
    "Where was the second national molecular imaging precision diagnosis and treatment "
    "summit forum held?"
)
HISTORY = [
    {"role": "user", "content": ON_TOPIC},
    {"role": "assistant", "content": "It was held in Taiyuan[1]."},
]


@pytest.fixture(scope="module")
def server(real_settings: Settings, real_answerer: Answerer) -> Iterator[str]:
    """The real answerer over HTTP, with time to answer on a busy shared machine: this is
    about what is answered, not how fast."""
    patient = real_settings.model_copy(update={"generation_timeout_s": 900.0})
    with serve(create_app(patient, answerer=real_answerer)) as base:
        yield base


def ask(base: str, question: str, history: list[dict[str, str]] = HISTORY) -> dict[str, object]:
    response = httpx.post(
        f"{base}/v1/ask",
        json={"question": question, "history": history, "max_tokens": 128},
        timeout=960,
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_an_off_topic_question_after_on_topic_history_is_refused(server: str) -> None:
    body = ask(server, "What is the capital of France?")
    assert body["refused"] is True, body
    assert body["citations"] == []
    assert "Paris" not in str(body["answer"])


@pytest.mark.parametrize("item_id", ["q013", "q045"])
def test_a_follow_up_of_the_eval_set_is_answered(server: str, item_id: str) -> None:
    """q013: "那次會議大概有多少人參加？" after a turn about the Taiyuan forum: about 150.
    q045: "他提到研究院聚焦的重点建设任务是什么？" after an answer naming 张平祥: his "he"
    is read as him (service.coreference), and his institute's task is answered."""
    (item,) = [i for i in load_items(DEFAULT_SET, EvalItem) if i.id == item_id]
    history = [t.model_dump() for t in item.history]
    body = ask(server, item.question, history)
    assert body["refused"] is False, body
    citations = body["citations"]
    assert isinstance(citations, list) and citations
    assert {c["doc_id"] for c in citations} <= set(item.gold_docs)
    for alternatives in item.answer_facts:
        assert any(fact in str(body["answer"]) for fact in alternatives), body


@pytest.mark.parametrize("question", ["今天天气怎么样？", "How do I bake bread?"])
def test_an_off_topic_question_naming_nothing_is_refused_after_history(
    server: str, question: str
) -> None:
    """Short and naming nothing, it is searched as a follow-up but judged on its own."""
    body = ask(server, question)
    assert body["refused"] is True, body
    assert body["citations"] == []


@pytest.mark.parametrize(
    ("earlier", "question", "doc", "named"),
    [
        (
            "第十三届医工协同科技创新学术年会在哪里召开？",
            "开幕式是谁主持的？",
            "002_1f9a42b8d58ce531.txt",
            "马辛格",
        ),
        (
            "Where was the 2023 International Conference on the Cooperation and Integration of "
            "Industry, Education, Research and Application held?",
            "Who presided over the opening ceremony?",
            "004_c1c1280c1642610c.txt",
            "Liu Chun",
        ),
    ],
)
def test_an_elliptical_follow_up_is_answered_about_the_event_talked_about(
    server: str, earlier: str, question: str, doc: str, named: str
) -> None:
    """Every report has an opening ceremony: "who chaired it" is the one just asked about, in
    the document the earlier question finds first (a question that finds the wrong one
    first, as the Taiyuan forum's report for some wordings of this one, leads its follow-ups
    astray too)."""
    history = [{"role": "user", "content": earlier}, {"role": "assistant", "content": "…"}]
    body = ask(server, question, history)
    assert body["refused"] is False, body
    citations = body["citations"]
    assert isinstance(citations, list) and citations
    assert {c["doc_id"] for c in citations} == {doc}, body
    assert named in str(body["answer"]), body
