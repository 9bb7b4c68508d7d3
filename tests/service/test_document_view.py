"""GET /v1/documents/{id}/view: the page a citation's `url` opens, over the real app and store
(fake models): the span is highlighted exactly, bad offsets and unknown documents are refused
with a reason, and a document's markup stays text."""

from __future__ import annotations

import json
import re
from html import unescape
from urllib.parse import quote

from fastapi.testclient import TestClient

from service.document_view import view_url
from tests.service.test_http_contract import ask_events

AUTH = {"Authorization": "Bearer test-key"}
QUESTION = "第二届分子影像高峰论坛在哪里举办？"
FORUM = "000_09db86074c66971f.txt"
MARK = re.compile(r'<mark id="cited">(.*?)</mark>', re.S)


def marked(page: str) -> str:
    """The highlighted text as a reader sees it; exactly one span is marked."""
    spans = MARK.findall(page)
    assert len(spans) == 1, spans
    return unescape(spans[0])


def text_of(client: TestClient, doc_id: str) -> str:
    response = client.get(f"/v1/documents/{quote(doc_id)}")
    assert response.status_code == 200
    text: str = response.json()["text"]
    return text


def view(client: TestClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    return response.text


def test_every_citation_and_passage_links_to_its_span_highlighted(client: TestClient) -> None:
    body = client.post("/v1/ask", json={"question": QUESTION}).json()
    assert body["citations"], body
    for citation in body["citations"]:
        assert citation["url"] == view_url(citation["doc_id"], citation["start"], citation["end"])
        assert marked(view(client, citation["url"])) == citation["quote"]
        text = text_of(client, citation["doc_id"])
        assert citation["quote"] == text[citation["start"] : citation["end"]]

    events = ask_events(client, {"question": QUESTION})
    passages = json.loads(events[0].data)["passages"]
    for passage in passages:
        assert passage["url"].endswith("#cited")
        assert marked(view(client, passage["url"])) == passage["text"]


def test_any_span_such_as_one_sentence_is_highlighted_exactly(client: TestClient) -> None:
    text = text_of(client, FORUM)
    sentence = "會議由山西醫科大學副校長王宏偉教授主持"
    start = text.index(sentence)
    page = view(client, view_url(FORUM, start, start + len(sentence)))
    assert marked(page) == sentence
    before, after = MARK.split(page)[0], MARK.split(page)[-1]
    assert unescape(re.sub(r"(?s).*<div class=\"text\">", "", before)) == text[:start]
    assert unescape(after.split("</div>")[0]) == text[start + len(sentence) :]
    whole = view(client, f"/v1/documents/{FORUM}/view")  # no span: the text, nothing marked
    assert "<mark" not in whole and unescape(whole).count(sentence) == 1
    last = view(client, view_url(FORUM, len(text) - 1, len(text)))  # the very last character
    assert marked(last) == text[-1]


def test_offsets_outside_the_text_are_refused_with_the_reason(client: TestClient) -> None:
    length = len(text_of(client, FORUM))
    cases = {
        f"start=0&end={length + 1}": f"past the end of the document's text ({length} characters)",
        "start=-1&end=5": "must not be negative",
        "start=5&end=5": "start (5) must be less than end (5)",
        "start=9&end=3": "must be less than end",
        "start=3": "give both start and end",
    }
    for query, reason in cases.items():
        response = client.get(f"/v1/documents/{FORUM}/view?{query}")
        assert response.status_code == 422, query
        assert reason in response.json()["detail"], (query, response.json())
    response = client.get(f"/v1/documents/{FORUM}/view?start=a&end=2")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "start"]


def test_an_unknown_document_is_404(client: TestClient) -> None:
    response = client.get("/v1/documents/no_such_file.txt/view?start=0&end=1")
    assert response.status_code == 404
    assert "no_such_file.txt" in response.json()["detail"]


def test_markup_in_a_document_stays_text(client: TestClient) -> None:
    hostile = (
        'Title <script>alert(1)</script>\n\nA line with <img src=x onerror="alert(2)"> and '
        '</div></main><script src="//evil.example/x.js"></script> and "quotes" & ampersands.'
    )
    doc_id = "报告 <b>x&y #1?.txt"  # markup, a space and URL syntax in the id
    response = client.post("/v1/documents", json={"doc_id": doc_id, "text": hostile}, headers=AUTH)
    assert response.status_code == 201, response.text
    text = text_of(client, doc_id)
    start = text.index("<img")
    end = text.index("ampersands.") + len("ampersands.")
    page = view(client, view_url(doc_id, start, end))
    assert marked(page) == text[start:end]
    assert page.count("<script") == 0 and "<img" not in page and "<b>" not in page
    assert unescape(page).count("<script") >= 2  # the tags are there, as text
    assert page.count("</main>") == 1 and page.count("</div>") == 1
