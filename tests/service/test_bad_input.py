"""Bad input on every route: a 4xx with a readable reason, never a 500.

Runs the real app over the fake-model answerer (tests/service/conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ragqa.config import Settings
from service.app import create_app
from tests.service.conftest import build_fake_answerer, make_settings

AUTH = {"Authorization": "Bearer test-key"}
JSON = {"content-type": "application/json"}
LONG_HISTORY = [{"role": "user", "content": "earlier question"}] * 41  # limit: 20 turns = 40


LONG = "y" * 2001
HI = {"role": "user", "content": "hi"}


def chat(extra: str) -> bytes:
    """A chat completion body with one good user message and `extra` fields."""
    return f'{{"messages": [{{"role": "user", "content": "hi"}}]{extra}}}'.encode()


def ask_with(history: str) -> bytes:
    return f'{{"question": "hi", "history": {history}}}'.encode()


def encoded(body: object) -> bytes:
    return json.dumps(body).encode()


def reason(body: dict[str, Any]) -> str:
    """The human-readable part of an error body: the message, or every field's message."""
    detail = body["detail"]
    if isinstance(detail, str):
        return detail
    return "; ".join(f"{'.'.join(map(str, d['loc']))}: {d['msg']}" for d in detail)


# (route, raw body, words the reason must contain); every body is sent as application/json.
@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module: these requests are all refused, so none changes it."""
    settings = make_settings(tmp_path_factory.mktemp("bad-input"))
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        yield client


BAD_BODIES: list[tuple[str, bytes, str]] = [
    # invalid JSON and invalid UTF-8
    ("/v1/ask", b"{not json", "JSON"),
    ("/v1/search", b'{"query": "x",}', "JSON"),
    ("/v1/chat/completions", b"[", "JSON"),
    ("/v1/ask", b'{"question": "caf\xe9"}', "UTF-8"),
    ("/v1/search", b"\xff\xfe\x00q", "JSON"),
    # JSON that is not an object, or no body at all
    ("/v1/ask", b"[1, 2]", "dictionary"),
    ("/v1/ask", b"null", "dictionary"),
    ("/v1/ask", b"", "required"),
    ("/v1/search", b'"just a string"', "object"),
    # missing fields
    ("/v1/ask", b"{}", "question: Field required"),
    ("/v1/search", b'{"top_k": 3}', "query: Field required"),
    ("/v1/chat/completions", b'{"model": "x"}', "messages: Field required"),
    # wrong types (no coercion: "5" is not 5, "yes" is not true)
    ("/v1/ask", b'{"question": 123}', "question"),
    ("/v1/ask", b'{"question": "hi", "top_k": "5"}', "top_k"),
    ("/v1/ask", b'{"question": "hi", "top_k": 1.5}', "top_k"),
    ("/v1/ask", b'{"question": "hi", "stream": "yes"}', "stream"),
    ("/v1/search", b'{"query": ["a"]}', "query"),
    ("/v1/search", b'{"query": "x", "mode": "semantic"}', "mode"),
    ("/v1/search", b'{"query": "x", "cross_lingual": 1}', "cross_lingual"),
    ("/v1/chat/completions", b'{"messages": "hello"}', "messages"),
    ("/v1/chat/completions", b'{"messages": [{"role": "tool", "content": "x"}]}', "role"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": 5}]}', "content"),
    # empty and whitespace-only text
    ("/v1/ask", b'{"question": ""}', "empty"),
    ("/v1/ask", b'{"question": " \\n\\t "}', "empty"),
    ("/v1/search", b'{"query": "   "}', "empty"),
    ("/v1/chat/completions", b'{"messages": []}', "messages"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "  "}]}', "user message"),
    ("/v1/chat/completions", b'{"messages": [{"role": "assistant", "content": "x"}]}', "user"),
    # control characters and unencodable text
    ("/v1/ask", b'{"question": "a\\u0000b"}', "control characters"),
    ("/v1/ask", b'{"question": "bell\\u0007"}', "control characters"),
    ("/v1/search", b'{"query": "esc\\u001b[31m"}', "control characters"),
    ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "a\\u0000"}]}', "control"),
    ("/v1/ask", b'{"question": "\\ud800 lone surrogate"}', "unicode"),
    ("/v1/search", b'{"query": "\\udfff"}', "unicode"),
    # unknown fields (the OpenAI route ignores OpenAI's many optional fields by design)
    ("/v1/ask", b'{"question": "hi", "temperature": 0.5}', "temperature: Extra inputs"),
    ("/v1/search", b'{"query": "hi", "stream": true}', "stream: Extra inputs"),
    ("/v1/search", b'{"query": "hi", "history": [{"role": "user"}]}', "history"),
    # absurd numbers
    ("/v1/ask", b'{"question": "hi", "top_k": 0}', "top_k"),
    ("/v1/ask", b'{"question": "hi", "top_k": -3}', "top_k"),
    ("/v1/ask", b'{"question": "hi", "top_k": 1000000000000000000000000000}', "top_k"),
    ("/v1/ask", b'{"question": "hi", "max_tokens": 0}', "max_tokens"),
    ("/v1/ask", b'{"question": "hi", "max_tokens": 99999999}', "max_tokens"),
    ("/v1/search", b'{"query": "hi", "top_k": 51}', "top_k"),
    ("/v1/chat/completions", chat(', "max_tokens": -1'), "max_tokens"),
    ("/v1/chat/completions", chat(', "temperature": 9'), "temperature"),
    ("/v1/chat/completions", chat(', "temperature": NaN'), "finite"),
    ("/v1/chat/completions", chat(', "temperature": Infinity'), "finite"),
    ("/v1/chat/completions", chat(', "stream": "true"'), "stream"),
    # history of the wrong shape, or too long
    ("/v1/ask", ask_with('"earlier"'), "history"),
    ("/v1/ask", ask_with('[["user", "x"]]'), "history.0"),
    ("/v1/ask", ask_with('[{"role": "user"}]'), "history.0.content"),
    ("/v1/ask", ask_with('[{"role": "system", "content": "x"}]'), "role"),
    ("/v1/ask", ask_with('[{"role": "user", "content": "x", "n": 1}]'), "n: Extra"),
    ("/v1/ask", ask_with('[{"role": "user", "content": "\\u0000"}]'), "control characters"),
    ("/v1/ask", encoded({"question": "hi", "history": LONG_HISTORY}), "the limit is 40"),
    # too long
    ("/v1/ask", encoded({"question": "x" * 2001}), "the limit is 2000"),
    ("/v1/ask", encoded({"question": "x" * 150_000}), "at most 100000"),
    ("/v1/search", encoded({"query": "x" * 150_000}), "at most 100000"),
    ("/v1/chat/completions", encoded({"messages": [{"role": "user", "content": LONG}]}), "2000"),
    ("/v1/chat/completions", encoded({"messages": [HI] * 201}), "messages"),
    # deeply nested JSON (a recursion bomb for naive parsers)
    ("/v1/ask", b'{"question": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "parsing"),
]  # fmt: skip


@pytest.mark.parametrize(("route", "body", "expected"), BAD_BODIES, ids=lambda v: str(v)[:40])
def test_bad_bodies_get_a_4xx_with_a_readable_reason(
    client: TestClient, route: str, body: bytes, expected: str
) -> None:
    response = client.post(route, content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/json"
    assert expected.lower() in reason(response.json()).lower(), response.text


def test_errors_do_not_echo_the_input(client: TestClient) -> None:
    """A 150 kB question is refused in a few hundred bytes, without repeating the question."""
    marker = "ECHO-ME-" * 20_000
    response = client.post("/v1/ask", json={"question": marker})
    assert response.status_code == 422
    assert "ECHO-ME" not in response.text
    assert len(response.content) < 1000


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("route", ["/v1/ask", "/v1/search", "/v1/chat/completions"])
def test_json_routes_refuse_other_content_types(
    client: TestClient, route: str, content_type: str | None
) -> None:
    """The reason names the content type expected, even when the bytes are valid JSON."""
    headers = {"content-type": content_type} if content_type else {}
    for body in (b"question=hi", b'{"question": "hi", "query": "hi"}'):
        response = client.post(route, content=body, headers=headers)
        assert response.status_code == 422
        assert "body: the body must be JSON" in reason(response.json())
        assert "Content-Type: application/json" in reason(response.json())


def test_a_missing_documents_404_does_not_echo_a_long_id(client: TestClient) -> None:
    long_id = "ECHO" * 15_000  # 60 kB
    for method in ("GET", "DELETE"):
        response = client.request(method, f"/v1/documents/{long_id}.txt", headers=AUTH)
        assert response.status_code == 404
        assert len(response.content) < 300, len(response.content)
        assert "ECHO" * 20 in response.json()["detail"] and "…" in response.json()["detail"]
    short = client.get("/v1/documents/no-such-doc.txt")
    assert short.json()["detail"] == "no document with id 'no-such-doc.txt'"


@pytest.fixture(scope="module")
def small_body_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app with a 4 kB upload limit, so 'huge' bodies stay small in the test."""
    settings: Settings = make_settings(tmp_path_factory.mktemp("small"), max_upload_bytes=4096)
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        yield client


def _chunked(total: int, piece: int = 16 * 1024) -> Iterator[bytes]:
    """A JSON body streamed without a Content-Length, `total` bytes of question."""
    yield b'{"question": "'
    for _ in range(total // piece):
        yield b"x" * piece
    yield b'"}'


@pytest.mark.parametrize(
    "route", ["/v1/ask", "/v1/search", "/v1/chat/completions", "/v1/documents"]
)
def test_huge_bodies_get_413_declared_or_streamed(
    small_body_client: TestClient, route: str
) -> None:
    huge = 200 * 1024  # the limit is 4 kB + 64 kB of multipart room
    declared = small_body_client.post(route, content=b"x" * huge, headers={**JSON, **AUTH})
    streamed = small_body_client.post(route, content=_chunked(huge), headers={**JSON, **AUTH})
    assert "content-length" not in streamed.request.headers
    for response in (declared, streamed):  # the same JSON error either way
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "detail": f"request body too large: the limit is {4096 + 64 * 1024} bytes"
        }
    # the server is still fine afterwards
    assert small_body_client.post("/v1/search", json={"query": "医学"}).status_code == 200


BAD_DOCUMENT_BODIES: list[tuple[dict[str, str], bytes, str]] = [
    (JSON, b"{bad json", "invalid JSON document"),
    (JSON, b'{"doc_id": "a.txt"}', "text: Field required"),
    (JSON, b'{"doc_id": "a.txt", "text": "   "}', "empty"),
    (JSON, b'{"doc_id": "a.txt", "text": "x\\u0000y"}', "control characters"),
    (JSON, b'{"doc_id": "a.txt", "text": "x", "tags": []}', "tags: Extra inputs"),
    (JSON, b'{"doc_id": 7, "text": "x"}', "doc_id"),
    (JSON, b'{"doc_id": "", "text": "x"}', "doc_id"),
    ({"content-type": "text/plain"}, b"a plain text body", "multipart/form-data"),
    ({}, b"", "multipart/form-data"),
    ({"content-type": "multipart/form-data"}, b"--x\r\n", "boundary"),
    ({"content-type": "multipart/form-data; boundary=x"}, b"--x\r\ngarbage", "'file'"),
]


@pytest.mark.parametrize(("headers", "body", "expected"), BAD_DOCUMENT_BODIES)
def test_bad_document_uploads_get_a_4xx_with_a_readable_reason(
    client: TestClient, headers: dict[str, str], body: bytes, expected: str
) -> None:
    response = client.post("/v1/documents", content=body, headers={**headers, **AUTH})
    assert 400 <= response.status_code < 500, response.text
    assert expected.lower() in reason(response.json()).lower(), response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/documents/no-such-doc.txt"),
        ("GET", "/v1/documents/%2e%2e%2f%2e%2e%2fetc%2fpasswd"),
        ("DELETE", "/v1/documents/no-such-doc.txt"),
        ("DELETE", "/v1/documents/..%2f..%2fetc%2fpasswd"),
        ("GET", "/v1/nothing-here"),
        ("PUT", "/v1/ask"),
        ("GET", "/v1/ask"),
    ],
)
def test_unknown_documents_routes_and_methods_are_4xx(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, headers=AUTH)
    assert response.status_code in (404, 405), response.text
    assert reason(response.json())
