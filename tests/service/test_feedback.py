"""POST /v1/feedback and `ragqa feedback export`, over the real app and a real SQLite file:
ratings are stored and counted, bad ones refused, and thumbs-down turns come out as eval
items that the eval runner's own loader reads."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from eval.items import EvalItem, load_items
from ragqa.cli import app as cli
from ragqa.config import Settings
from service.app import create_app
from service.feedback import FeedbackStore
from tests.service.conftest import build_fake_answerer, make_settings

QUESTION = "第二届分子影像高峰论坛在哪里举办？"
DOWN: dict[str, Any] = {
    "question": "Who chaired it?",
    "answer": "The forum was chaired by Li Sijin[1].",
    "rating": "down",
    "comment": "Wrong person: Wang Hongwei chaired it.",
    "citations": [
        {
            "n": 1,
            "doc_id": "000_09db86074c66971f.txt",
            "title": "论坛",
            "quote": "…",
            "start": 0,
            "end": 10,
        }
    ],
    "history": [
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": "在太原举办[1]。"},
    ],
}


def feedback_counts(client: TestClient) -> dict[str, float]:
    families = text_string_to_metric_families(client.get("/metrics").text)
    family = next(f for f in families if f.name == "ragqa_feedback")
    return {s.labels["rating"]: s.value for s in family.samples if s.name == "ragqa_feedback_total"}


def test_a_rating_is_stored_and_counted(client: TestClient, settings: Settings) -> None:
    assert feedback_counts(client) == {"up": 0, "down": 0}
    answer = client.post("/v1/ask", json={"question": QUESTION}).json()
    up = {
        "question": QUESTION,
        "answer": answer["answer"],
        "rating": "up",
        "citations": answer["citations"],
    }
    for citation in up["citations"]:  # what the API gave, minus what feedback does not keep
        for field in ("chunk_id", "score", "url"):
            citation.pop(field)
    first = client.post("/v1/feedback", json=up)
    assert first.status_code == 201, first.text
    second = client.post("/v1/feedback", json=DOWN)
    assert second.status_code == 201, second.text
    assert second.json()["id"] > first.json()["id"]
    assert feedback_counts(client) == {"up": 1, "down": 1}

    with sqlite3.connect(settings.feedback_path) as db:  # the file itself, beside the index
        rows = db.execute("SELECT rating, question, comment, citations FROM feedback").fetchall()
    assert settings.feedback_path.parent == settings.index_dir.parent
    assert [r[0] for r in rows] == ["up", "down"]
    assert rows[1][1:3] == (DOWN["question"], DOWN["comment"])
    assert json.loads(rows[1][3]) == DOWN["citations"]
    stored = FeedbackStore(settings.feedback_path).records("down")[0]
    assert stored.history == DOWN["history"] and not stored.refused


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"rating": "meh"}, "rating"),
        ({"rating": None}, "rating"),
        ({"question": "   "}, "question"),
        ({"answer": ""}, "answer"),
        ({"comment": "x" * 2001}, "comment"),
        ({"comment": "bad\x00byte"}, "comment"),
        ({"citations": [{"n": 1}]}, "citations"),
        ({"citations": "1"}, "citations"),
        ({"history": [{"role": "system", "content": "x"}]}, "history"),
        ({"extra": 1}, "extra"),
    ],
)
def test_bad_feedback_is_refused(
    client: TestClient, settings: Settings, change: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/feedback", json={**DOWN, **change})
    assert response.status_code == 422, response.text
    assert field in json.dumps(response.json()["detail"])
    assert FeedbackStore(settings.feedback_path).records() == []
    assert feedback_counts(client) == {"up": 0, "down": 0}


def test_feedback_is_rate_limited_like_ask(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, rate_limit_per_minute=2)
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        codes = [client.post("/v1/feedback", json=DOWN).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        assert "Retry-After" in client.post("/v1/feedback", json=DOWN).headers
    assert len(FeedbackStore(settings.feedback_path).records()) == 2


def test_export_writes_thumbs_down_turns_as_eval_items_to_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "var" / "feedback.sqlite3"
    store = FeedbackStore(database)
    store.add(
        rating="up",
        question=QUESTION,
        answer="在太原[1]。",
        refused=False,
        citations=[],
        history=[],
        comment="",
    )
    store.add(
        rating="down",
        question=DOWN["question"],
        answer=DOWN["answer"],
        refused=False,
        citations=DOWN["citations"],
        history=DOWN["history"],
        comment=DOWN["comment"],
    )
    store.add(
        rating="down",
        question="火星上有几座城市？",
        answer="文档中没有找到这个问题的答案。",
        refused=True,
        citations=[],
        history=[],
        comment="",
    )
    monkeypatch.setenv("RAGQA_FEEDBACK_DB", str(database))
    out = tmp_path / "to_complete.jsonl"

    result = CliRunner().invoke(cli, ["feedback", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "2 thumbs-down answers exported" in result.output

    items = load_items(out, EvalItem)  # the eval runner's own loader accepts the file
    assert [i.id for i in items] == ["feedback-2", "feedback-3"]
    follow_up, refused = items
    assert follow_up.type == "followup" and follow_up.language == "en"
    assert [t.model_dump() for t in follow_up.history] == DOWN["history"]
    assert follow_up.gold_docs == ["000_09db86074c66971f.txt"]
    assert follow_up.answer_facts == [["TODO"]]
    assert follow_up.note.startswith("TODO") and DOWN["comment"] in follow_up.note
    assert DOWN["answer"] in follow_up.note
    assert refused.type == "fact" and refused.language == "zh-Hans" and not refused.history
    assert refused.gold_docs == ["TODO"] and "refusal" in refused.note

    stdout = CliRunner().invoke(cli, ["feedback", "export"])
    assert stdout.exit_code == 0
    assert out.read_text(encoding="utf-8") in stdout.output
