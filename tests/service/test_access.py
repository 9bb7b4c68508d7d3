"""Access control: the write key, closed writes without one, CORS, per-client rate limits,
and the key never reaching a log line.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from ragqa.config import Settings
from service.app import create_app
from service.cli import uvicorn_options
from service.loopback import serve
from tests.service.conftest import build_fake_answerer, make_settings

KEY = "s3cr3t-Key-0123456789abcdef"
QUESTION = "第十三届医工协同科技创新学术年会在哪里举行？"
DOC = {"doc_id": "note.txt", "text": "The orchard keeper counted 412 apple trees in 2024."}
ALLOWED = "https://docs.example.org"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus and its fake-embedder index, built once and copied per app."""
    root = tmp_path_factory.mktemp("access-template")
    build_fake_answerer(make_settings(root))
    return root


def app_client(template: Path, tmp: Path, **overrides: Any) -> TestClient:
    shutil.copytree(template, tmp, dirs_exist_ok=True)
    settings = make_settings(tmp, **overrides)
    return TestClient(create_app(settings, answerer_factory=build_fake_answerer))


@pytest.fixture
def keyed(template: Path, tmp_path: Path) -> Iterator[TestClient]:
    with app_client(template, tmp_path, api_key=KEY) as client:
        yield client


# --- the write key --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-key",
        f"Bearer {KEY[:-1]}",  # a prefix of the key
        f"Bearer {KEY}x",  # the key plus one character
        f"Bearer {KEY.upper()}",
        f"Basic {KEY}",
        KEY,  # no scheme
        "Bearer ключ-не-тот",  # non-ASCII, sent as UTF-8 bytes
    ],
)
def test_writes_without_the_right_key_are_403_and_change_nothing(
    keyed: TestClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {b"authorization": authorization.encode()}
    before = keyed.get("/v1/documents").json()
    upload = keyed.post("/v1/documents", json=DOC, headers=headers)
    assert upload.status_code == 403, upload.text
    assert "API key" in upload.json()["detail"]
    delete = keyed.delete("/v1/documents/000_09db86074c66971f.txt", headers=headers)
    assert delete.status_code == 403
    assert keyed.get("/v1/documents").json() == before


def test_the_right_key_writes_and_reads_need_none(keyed: TestClient) -> None:
    auth = {"Authorization": f"Bearer {KEY}"}
    assert keyed.post("/v1/documents", json=DOC, headers=auth).status_code == 201
    assert keyed.get("/v1/documents/note.txt").status_code == 200  # reads are open
    assert keyed.post("/v1/search", json={"query": "apple trees"}).status_code == 200
    assert keyed.post("/v1/ask", json={"question": QUESTION}).status_code == 200
    assert keyed.delete("/v1/documents/note.txt", headers=auth).status_code == 200
    assert keyed.get("/v1/documents/note.txt").status_code == 404


def test_with_no_key_configured_writes_are_closed(template: Path, tmp_path: Path) -> None:
    with app_client(template, tmp_path, api_key=None) as client:
        for headers in ({}, {"Authorization": "Bearer anything"}, {"Authorization": "Bearer "}):
            response = client.post("/v1/documents", json=DOC, headers=headers)
            assert response.status_code == 403
            assert "RAGQA_API_KEY" in response.json()["detail"]
        assert client.delete("/v1/documents/000_09db86074c66971f.txt").status_code == 403


def test_unauthenticated_writes_only_when_explicitly_allowed(
    template: Path, tmp_path: Path
) -> None:
    with app_client(template, tmp_path, api_key=None, allow_unauthenticated_writes=True) as client:
        assert client.post("/v1/documents", json=DOC).status_code == 201


def test_a_configured_key_wins_over_allow_unauthenticated_writes(
    template: Path, tmp_path: Path
) -> None:
    with app_client(template, tmp_path, api_key=KEY, allow_unauthenticated_writes=True) as client:
        assert client.post("/v1/documents", json=DOC).status_code == 403


# --- CORS -----------------------------------------------------------------------------------


def preflight(client: TestClient, origin: str, path: str = "/v1/ask") -> Any:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_cors_allows_only_the_configured_origins(template: Path, tmp_path: Path) -> None:
    with app_client(template, tmp_path, cors_origins=[ALLOWED]) as client:
        allowed = preflight(client, ALLOWED)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == ALLOWED
        assert "POST" in allowed.headers["access-control-allow-methods"]

        for other in ("https://evil.example", "https://docs.example.org.evil.example", "null"):
            refused = preflight(client, other)
            assert refused.status_code == 400
            assert "access-control-allow-origin" not in refused.headers

        simple = client.post("/v1/search", json={"query": "核医学"}, headers={"Origin": ALLOWED})
        assert simple.headers["access-control-allow-origin"] == ALLOWED
        assert "Retry-After" in simple.headers["access-control-expose-headers"]
        foreign = client.post(
            "/v1/search", json={"query": "核医学"}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 200  # CORS is the browser's check: no allow header
        assert "access-control-allow-origin" not in foreign.headers


def test_no_cross_origin_access_by_default(template: Path, tmp_path: Path) -> None:
    with app_client(template, tmp_path) as client:
        assert preflight(client, ALLOWED).status_code == 400
        simple = client.post("/v1/search", json={"query": "核医学"}, headers={"Origin": ALLOWED})
        assert "access-control-allow-origin" not in simple.headers


# --- per-client rate limit ------------------------------------------------------------------


def test_ask_and_chat_share_a_per_client_rate_limit_with_retry_after(
    template: Path, tmp_path: Path
) -> None:
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    settings = make_settings(tmp_path, rate_limit_per_minute=3)
    app = create_app(settings, answerer_factory=build_fake_answerer)
    chat = {"messages": [{"role": "user", "content": QUESTION}], "max_tokens": 2}
    with TestClient(app, client=("10.0.0.1", 40000)) as first:
        assert first.post("/v1/ask", json={"question": QUESTION}).status_code == 200
        assert first.post("/v1/chat/completions", json=chat).status_code == 200
        assert first.post("/v1/ask", json={"question": QUESTION}).status_code == 200
        for path, body in (("/v1/ask", {"question": QUESTION}), ("/v1/chat/completions", chat)):
            limited = first.post(path, json=body, headers={"X-Forwarded-For": "10.9.9.9"})
            assert limited.status_code == 429, limited.text
            assert 1 <= int(limited.headers["Retry-After"]) <= 60
            assert "too many requests" in limited.json()["detail"]
        # searches, reads and health are not generation and are not limited
        assert first.post("/v1/search", json={"query": "核医学"}).status_code == 200
        assert first.get("/healthz").status_code == 200
        with TestClient(app, client=("10.0.0.2", 40000)) as second:
            assert second.post("/v1/ask", json={"question": QUESTION}).status_code == 200


# --- secrets in logs ------------------------------------------------------------------------


def test_the_api_key_never_reaches_the_logs(
    template: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """Every logger at DEBUG, uvicorn's access log included, over a real server."""
    shutil.copytree(template, tmp_path, dirs_exist_ok=True)
    settings: Settings = make_settings(tmp_path, api_key=KEY)
    assert KEY not in repr(settings) and KEY not in str(settings.model_dump())
    app = create_app(settings, answerer_factory=build_fake_answerer)
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {KEY}"}
    # log_config=None: uvicorn's loggers propagate to the root logger, where caplog listens
    with (
        serve(app, log_level="debug", log_config=None, access_log=True) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        assert client.post("/v1/documents", json=DOC, headers=auth).status_code == 201
        refused = {"doc_id": "bad.exe", "text": "x"}
        assert client.post("/v1/documents", json=refused, headers=auth).status_code == 415
        wrong = {"Authorization": f"Bearer {KEY}-wrong"}
        assert client.post("/v1/documents", json=DOC, headers=wrong).status_code == 403
        assert client.delete("/v1/documents/note.txt", headers=auth).status_code == 200
        assert client.post("/v1/ask", json={"question": QUESTION}, headers=auth).is_success
        assert client.get("/metrics", headers=auth).status_code == 200
    messages = [record.getMessage() for record in caplog.records]
    assert any("/v1/documents" in m and "201" in m for m in messages), "no access log captured"
    assert not [m for m in messages if KEY in m]
    assert KEY not in caplog.text
    out, err = capfd.readouterr()
    assert KEY not in out and KEY not in err


# --- the client address behind (or without) a proxy, on a real server ------------------------


class Records(logging.Handler):
    """Keeps the access log records a live server writes (after the logger's filters)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    @property
    def lines(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextmanager
def uvicorn_logging_restored() -> Iterator[None]:
    """uvicorn reconfigures its loggers when a server starts with a log configuration (as
    `ragqa serve`'s does); put them back afterwards, so other tests' servers log as before."""
    saved = {
        name: (lg.handlers[:], lg.filters[:], lg.level, lg.propagate)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        for lg in [logging.getLogger(name)]
    }
    try:
        yield
    finally:
        for name, (handlers, filters, level, propagate) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.filters[:] = handlers, filters
            lg.level, lg.propagate = level, propagate


@pytest.fixture
def access_log() -> Iterator[Records]:
    """The access records of a server started in the test with `ragqa serve`'s options."""
    with uvicorn_logging_restored():
        yield Records()


@contextmanager
def served_like_ragqa_serve(
    template: Path, tmp: Path, records: Records, **overrides: Any
) -> Iterator[httpx.Client]:
    """A real uvicorn on loopback with the options `ragqa serve` passes; a client for it."""
    shutil.copytree(template, tmp, dirs_exist_ok=True)
    settings = make_settings(tmp, **overrides)
    app = create_app(settings, answerer_factory=build_fake_answerer)
    with (
        serve(app, log_level="info", **uvicorn_options(settings)) as base,
        httpx.Client(base_url=base, timeout=30) as client,
    ):
        logging.getLogger("uvicorn.access").addHandler(records)
        yield client


def ask(client: httpx.Client, **headers: str) -> int:
    return client.post("/v1/ask", json={"question": QUESTION}, headers=headers).status_code


SPOOFS = [
    {"X-Forwarded-For": "10.9.9.11"},
    {"X-Forwarded-For": "10.9.9.12, 10.9.9.13"},
    {"X-Forwarded-For": "127.0.0.2"},
    {"Forwarded": "for=10.9.9.14"},
    {"X-Real-IP": "10.9.9.15"},
]


@pytest.mark.parametrize("trusted", [[], ["10.1.2.3"], ["192.168.0.0/16"]], ids=repr)
def test_without_a_trusted_proxy_forwarded_headers_neither_escape_the_limit_nor_reach_the_log(
    template: Path, tmp_path: Path, access_log: Records, trusted: list[str]
) -> None:
    """Direct clients (here from 127.0.0.1, uvicorn's default trusted proxy) cannot name
    another address: the limit and the access log use the connection's peer."""
    with served_like_ragqa_serve(
        template, tmp_path, access_log, rate_limit_per_minute=3, trusted_proxies=trusted
    ) as client:
        assert [ask(client, **{"X-Forwarded-For": f"10.9.9.{n}"}) for n in range(3)] == [200] * 3
        for spoof in SPOOFS:
            assert ask(client, **spoof) == 429, spoof
    asks = [line for line in access_log.lines if "/v1/ask" in line]
    assert len(asks) == 3 + len(SPOOFS)
    assert all(line.startswith("127.0.0.1:") for line in asks), asks
    assert not [line for line in access_log.lines if "10.9.9." in line]


@pytest.mark.parametrize("trusted", [["127.0.0.1"], ["127.0.0.0/8"]], ids=repr)
def test_behind_a_trusted_proxy_the_forwarded_client_is_limited_and_logged(
    template: Path, tmp_path: Path, access_log: Records, trusted: list[str]
) -> None:
    with served_like_ragqa_serve(
        template, tmp_path, access_log, rate_limit_per_minute=3, trusted_proxies=trusted
    ) as client:
        first = {"X-Forwarded-For": "10.9.9.9"}
        assert [ask(client, **first) for _ in range(3)] == [200] * 3
        assert ask(client, **first) == 429
        # A client's own X-Forwarded-For comes before the address the proxy appends: the
        # rightmost untrusted address is the client, so prepending does not escape the limit.
        assert ask(client, **{"X-Forwarded-For": "6.6.6.6, 10.9.9.9"}) == 429
        assert ask(client, **{"X-Forwarded-For": "10.9.9.10"}) == 200  # another client
    asks = [line for line in access_log.lines if "/v1/ask" in line]
    assert [line.split(" ", 1)[0] for line in asks] == ["10.9.9.9:0"] * 5 + ["10.9.9.10:0"]


def test_settings_accept_only_addresses_and_networks_as_proxies(tmp_path: Path) -> None:
    assert make_settings(tmp_path, trusted_proxies=["::1", "10.0.0.0/8"]).trusted_proxies
    for bad in (["*"], ["proxy.example"], ["10.0.0.0/33"]):
        with pytest.raises(ValidationError, match="not an IP address"):
            make_settings(tmp_path, trusted_proxies=bad)


def test_a_key_in_the_query_string_is_refused_and_redacted_from_the_access_log(
    template: Path, tmp_path: Path, access_log: Records, capfd: pytest.CaptureFixture[str]
) -> None:
    with served_like_ragqa_serve(template, tmp_path, access_log, api_key=KEY) as client:
        for name in ("key", "api_key", "token", "access_token", "X-Api-Key", "apiKey"):
            response = client.post(
                f"/v1/documents?{name}={KEY}&doc=1", json=DOC, headers={"X-Trace": "1"}
            )
            assert response.status_code == 403, name
        assert client.get(f"/v1/documents?token={KEY}").status_code == 200
    lines = [line for line in access_log.lines if "/v1/documents" in line]
    assert len(lines) == 7
    assert not [line for line in lines if KEY in line]
    assert all("REDACTED" in line for line in lines)
    assert any("doc=1" in line for line in lines)  # other parameters are kept
    out, err = capfd.readouterr()
    assert KEY not in out and KEY not in err
