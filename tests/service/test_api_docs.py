"""`/docs` and `/redoc` work offline, and the OpenAPI document describes every response.

The pages must reference only files this server serves (a CDN is unreachable offline), and
every route, field and stream event must be documented, so the document is checked whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

PAGES = ["/docs", "/redoc"]
# FastAPI's own validation-error models: their fields are FastAPI's to describe.
FASTAPI_SCHEMAS = {"HTTPValidationError", "ValidationError"}


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def referenced_urls(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize("page", PAGES)
def test_the_page_refers_only_to_this_server(client: TestClient, page: str) -> None:
    response = client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert not re.search(r"https?://|//[a-z]", html), "the page loads something from elsewhere"
    urls = referenced_urls(html)
    assert any(u.endswith(".js") for u in urls)
    assert all(u.startswith("/") for u in urls), urls
    assert "/openapi.json" in html


@pytest.mark.parametrize("page", PAGES)
def test_every_file_the_page_needs_is_served_with_its_type(client: TestClient, page: str) -> None:
    kinds = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}
    kinds[".svg"] = "image/svg+xml"
    for url in referenced_urls(client.get(page).text):
        response = client.get(url)
        assert response.status_code == 200, url
        kind = kinds[url[url.rindex(".") :]]
        assert response.headers["content-type"].startswith(kind), (url, response.headers)
        assert len(response.content) > 1000, url


def test_redocs_logo_is_served_where_its_script_looks_for_it(client: TestClient) -> None:
    script = client.get("/redoc/redoc.standalone.js").text
    assert "cdn.redoc" not in script and 'window.location.pathname+"/logo-mini.svg"' in script
    logo = client.get("/redoc/logo-mini.svg")
    assert logo.status_code == 200 and logo.headers["content-type"].startswith("image/svg+xml")


def test_an_unknown_asset_is_404(client: TestClient) -> None:
    assert client.get("/docs/nothing.js").status_code == 404
    assert client.get("/redoc/nothing.js").status_code == 404


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_route_documents_its_success_response_schema(openapi: dict[str, Any]) -> None:
    seen = 0
    for path, method, operation in operations(openapi):
        success = [c for c in operation["responses"] if c.startswith("2")]
        assert success, (method, path)
        for code in success:
            response = operation["responses"][code]
            assert response.get("description"), (method, path, code)
            contents = response.get("content", {})
            assert contents, (method, path, code)
            for media, body in contents.items():
                assert body.get("schema"), (method, path, code, media)
        seen += 1
    assert seen >= 11  # health 2, search, ask, chat 2, documents 4, metrics


def test_every_reference_resolves(openapi: dict[str, Any]) -> None:
    text = str(openapi)
    names = set(re.findall(r"#/components/schemas/([A-Za-z0-9_.-]+)", text))
    assert names <= set(openapi["components"]["schemas"]), names - set(
        openapi["components"]["schemas"]
    )


def test_every_field_of_ragqas_schemas_has_a_description(openapi: dict[str, Any]) -> None:
    missing = [
        f"{name}.{field}"
        for name, schema in openapi["components"]["schemas"].items()
        if name not in FASTAPI_SCHEMAS
        for field, spec in schema.get("properties", {}).items()
        if not spec.get("description")
    ]
    assert not missing, missing


def test_the_ask_stream_events_are_documented(openapi: dict[str, Any]) -> None:
    ok = openapi["paths"]["/v1/ask"]["post"]["responses"]["200"]
    stream = ok["content"]["text/event-stream"]["schema"]["oneOf"]
    events = {ref["$ref"].rsplit("/", 1)[1] for ref in stream}
    assert events == {"PassagesEventData", "TokenEventData", "AskResponse", "ErrorEventData"}
    for event in ("passages", "token", "done", "error"):
        assert f"`{event}`" in ok["description"]
    schemas = openapi["components"]["schemas"]
    assert set(schemas["PassagesEventData"]["properties"]) == {"passages"}
    assert set(schemas["TokenEventData"]["properties"]) == {"text"}


def test_the_chat_completion_documents_references_refused_and_its_chunks(
    openapi: dict[str, Any],
) -> None:
    ok = openapi["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]
    whole = ok["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    schemas = openapi["components"]["schemas"]
    assert {"references", "refused", "model"} <= set(schemas[whole]["properties"])
    chunk = ok["content"]["text/event-stream"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert {"references", "refused", "choices"} <= set(schemas[chunk]["properties"])


def test_the_main_responses_carry_examples(openapi: dict[str, Any]) -> None:
    schemas = openapi["components"]["schemas"]
    for name, field in [("AskResponse", "answer"), ("AskRequest", "question")]:
        assert schemas[name]["properties"][field].get("examples"), (name, field)
