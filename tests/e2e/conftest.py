"""A real ragqa server in a subprocess and a real headless Chromium, shared by the e2e tests.

The server indexes a copy of the bundled collection plus `xss_test.txt`, a document whose text
carries HTML/script tags, so the widget's "text, never HTML" promise is tested end to end.
Chromium is Debian's (`scripts/install-browser.sh`); Playwright never downloads a browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from service.app import create_app
from service.loopback import free_port, serve
from tests.service.conftest import PacedGenerator, app_with_generators, build_fake_answerer
from tests.service.conftest import make_settings as service_settings

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = REPO / "test-artifacts"
READY_TIMEOUT_S = 180.0  # the first start may also build the index (and provision models)
API_KEY = "test-key"

XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
XSS_DOCUMENT = f"""2024年PET-CT规范化操作培训班在郑州举办

2024年9月14日至15日，2024年PET-CT规范化操作培训班在郑州举办，\
120余名核医学医师和技师参加了培训。课程包括PET-CT质量控制、18F-FDG显像规范和辐射防护。\
报名网页曾因排版错误显示出代码 {XSS_IMG} 和 {XSS_SCRIPT}，主办方随后修正了页面。
"""


def _tail(path: Path, lines: int = 80) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _wait_ready(base_url: str, server: subprocess.Popen[bytes], log_path: Path) -> None:
    """Poll /readyz until 200; fail with the server's log if it dies or takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(
                f"ragqa server exited with {server.returncode} before it was ready; "
                f"its log ({log_path}):\n{_tail(log_path)}"
            )
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        time.sleep(0.5)
    pytest.fail(
        f"ragqa server not ready after {READY_TIMEOUT_S:.0f} s; "
        f"its log ({log_path}):\n{_tail(log_path)}"
    )


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Base URL of a real `ragqa serve` on a free loopback port, with one generation slot
    and no queue (so a second concurrent ask is refused with 503)."""
    workdir = tmp_path_factory.mktemp("live_server")
    corpus = workdir / "corpus"
    shutil.copytree(REPO / "corpus", corpus)
    (corpus / "xss_test.txt").write_text(XSS_DOCUMENT, encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "RAGQA_COLLECTION_DIR": str(corpus),
        "RAGQA_INDEX_DIR": str(workdir / "index"),
        "RAGQA_API_KEY": API_KEY,
        "RAGQA_MAX_CONCURRENT_GENERATIONS": "1",
        "RAGQA_MAX_QUEUE": "0",
        "RAGQA_RETRY_AFTER_S": "3",
        "RAGQA_RATE_LIMIT_PER_MINUTE": "0",  # the busy test's automatic retries are not abuse
        # the first answer shares the CPU with the start-up prefill: behaviour is tested, not speed
        "RAGQA_GENERATION_TIMEOUT_S": "600",
        "PYTHONUNBUFFERED": "1",
        # importable without an install; the server runs in its own folder so no .env leaks in
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log_path = workdir / "server.log"
    command = [sys.executable, "-m", "ragqa.cli", "serve", "--host", "127.0.0.1"]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*command, "--port", str(port)], cwd=workdir, env=env, stdout=log, stderr=log
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, server, log_path)
        yield base_url
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if request.session.testsfailed:
            sys.stderr.write(f"\n--- ragqa server log ({log_path}) ---\n{_tail(log_path)}\n")


@pytest.fixture(scope="session")
def playwright_instance() -> Iterator[Playwright]:
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    """Debian's Chromium, headless. Install it with scripts/install-browser.sh."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    browser = playwright_instance.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh desktop-sized page (its own sessionStorage) for each test."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def xss_markup() -> tuple[str, str]:
    """The two tags written literally into the live server's `xss_test.txt`."""
    return XSS_IMG, XSS_SCRIPT


# --- fake-model servers for the widget's own behaviour (no real model) ---------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the fake models, answering at once; no other origin may call it."""
    settings = service_settings(tmp_path_factory.mktemp("widget"))
    with serve(create_app(settings, answerer_factory=build_fake_answerer)) as base:
        yield base


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like `server`, but any origin may call it (test pages made with `set_content`)."""
    settings = service_settings(tmp_path_factory.mktemp("open"), cors_origins=["*"])
    with serve(create_app(settings, answerer_factory=build_fake_answerer)) as base:
        yield base


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Open to any origin, with a model that writes a token every 0.4 s, 8 tokens an answer.

    Its word is a city: the widget asks where (`QUESTION_HANS`), and an answer to "where" that
    names no place is the refusal (service.answer_kind), which lists no sources.
    """
    settings = service_settings(tmp_path_factory.mktemp("slow"), max_tokens=8, cors_origins=["*"])
    paced = PacedGenerator(interval_s=0.4, word="太原")
    with serve(app_with_generators(settings, paced)) as base:
        yield base
