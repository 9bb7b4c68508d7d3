"""Response headers on a real uvicorn server started with `ragqa serve`'s options: no `server`
header, `nosniff` everywhere, a CSP and a frame policy on HTML pages, and a widget script that
other sites can still load.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from collections.abc import Iterator

import httpx
import pytest

from service.app import create_app
from service.cli import uvicorn_options
from service.loopback import serve
from tests.service.conftest import build_fake_answerer, make_settings
from tests.service.test_access import uvicorn_logging_restored

AUTH = {"Authorization": "Bearer test-key"}
PAGES = ["/", "/docs", "/redoc"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    root = tmp_path_factory.mktemp("headers")
    settings = make_settings(root, rate_limit_per_minute=1, max_upload_bytes=1024)
    app = create_app(settings, answerer_factory=build_fake_answerer)
    with (
        uvicorn_logging_restored(),
        serve(app, **uvicorn_options(settings)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        yield client
    shutil.rmtree(root, ignore_errors=True)


def responses(client: httpx.Client) -> list[httpx.Response]:
    """One response of each kind: pages, script, JSON, errors, preflight, stream, metrics."""
    ask = {"question": "核医学会议在哪里举行？"}
    return [
        *(client.get(page) for page in PAGES),
        client.get("/widget.js"),
        client.get("/healthz"),
        client.get("/openapi.json"),
        client.get("/metrics"),
        client.get("/v1/documents"),
        client.get("/v1/documents/missing.txt"),
        client.post("/v1/documents", json={"doc_id": "a.txt", "text": "x"}),  # 403
        client.post("/v1/search", content=b"x" * 100_000, headers={"content-type": "text/plain"}),
        client.post("/v1/ask", json={**ask, "stream": True}),
        client.post("/v1/ask", json=ask),  # 429: one a minute
        client.options(  # a refused CORS preflight
            "/v1/ask",
            headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
        ),
        client.put("/v1/ask"),
    ]


def test_no_response_names_the_server_and_all_forbid_sniffing(live: httpx.Client) -> None:
    seen = responses(live)
    assert {r.status_code for r in seen} >= {200, 400, 403, 404, 405, 413, 429}
    for response in seen:
        assert "server" not in response.headers, response.request.url
        assert response.headers["x-content-type-options"] == "nosniff", response.request.url


def directives(policy: str) -> dict[str, list[str]]:
    return {
        name: values
        for name, *values in (part.split() for part in policy.split(";") if part.strip())
    }


@pytest.mark.parametrize("page", PAGES)
def test_html_pages_have_a_csp_and_cannot_be_framed(live: httpx.Client, page: str) -> None:
    response = live.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["x-frame-options"] == "DENY"
    policy = directives(response.headers["content-security-policy"])
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["default-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'none'"]
    assert "'unsafe-inline'" not in policy["script-src"] and "*" not in policy["script-src"]
    assert policy["connect-src"] == ["'self'"]


def test_the_demo_page_runs_scripts_from_this_origin_only(live: httpx.Client) -> None:
    response = live.get("/")
    assert '<script src="/widget.js"' in response.text
    assert "<script>" not in response.text  # no inline script the policy would have to allow
    assert directives(response.headers["content-security-policy"])["script-src"] == ["'self'"]


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_run_only_local_scripts_and_their_own_inline_script_by_hash(
    live: httpx.Client, page: str
) -> None:
    response = live.get(page)
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    if page == "/docs":
        assert scripts, "FastAPI's page starts Swagger UI with an inline script"
    allowed = directives(response.headers["content-security-policy"])["script-src"]
    hashes = {
        f"'sha256-{base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()}'"
        for script in scripts
    }
    assert hashes <= set(allowed)
    assert set(allowed) - hashes == {"'self'"}
    assert "'sha256-" not in live.get("/").headers["content-security-policy"]


def test_the_widget_script_still_loads_from_other_sites(live: httpx.Client) -> None:
    response = live.get("/widget.js", headers={"Origin": "https://blog.example"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")  # nosniff needs it
    assert response.headers["access-control-allow-origin"] == "*"
    for header in ("x-frame-options", "content-security-policy", "cross-origin-resource-policy"):
        assert header not in response.headers


def test_json_responses_carry_no_page_policy(live: httpx.Client) -> None:
    response = live.get("/v1/documents")
    assert response.headers["content-type"] == "application/json"
    assert "content-security-policy" not in response.headers
