"""Issue 19 item 1 with the real default models, over HTTP: grounding holds on every turn.

An off-topic question after an on-topic turn is refused as it is without history; a real
follow-up of the eval set is still answered from the document its history is about.
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


def test_a_follow_up_of_the_eval_set_is_answered(server: str) -> None:
    """q013: "那次會議大概有多少人參加？" after a turn about the Taiyuan forum: about 150."""
    (item,) = [i for i in load_items(DEFAULT_SET, EvalItem) if i.id == "q013"]
    history = [t.model_dump() for t in item.history]
    body = ask(server, item.question, history)
    assert body["refused"] is False, body
    citations = body["citations"]
    assert isinstance(citations, list) and citations
    assert {c["doc_id"] for c in citations} <= set(item.gold_docs)
    assert "150" in str(body["answer"]), body
