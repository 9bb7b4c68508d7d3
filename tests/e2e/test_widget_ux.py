"""The widget as people use it today, in a real headless Chromium against the real app.

The server runs in this process on loopback over the fake-model answerer (answers come at
once, or token by token at a set pace), so these tests need no model and run in seconds.
Embedding is tested from a second origin: a static server on another loopback port.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from service.app import create_app
from service.loopback import HOST, free_port, serve
from service.routers.widget import widget_bundle
from tests.service.conftest import build_fake_answerer
from tests.service.conftest import make_settings as service_settings

pytestmark = pytest.mark.e2e

QUESTION_HANS = "第二届分子影像高峰论坛在哪里举办？"
QUESTION_HANT = "第二屆分子影像高峰論壇在哪裡舉辦？"
PHONE = {"width": 390, "height": 700}


@contextmanager
def static_site(pages: dict[str, str], port: int | None = None) -> Iterator[str]:
    """Another origin: serves `pages` (path -> HTML) and /widget.js on a loopback port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/widget.js":
                body, kind = widget_bundle().encode(), "text/javascript"
            elif self.path in pages:
                body, kind = pages[self.path].encode(), "text/html; charset=utf-8"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: Any) -> None:
            """Quiet."""

    server = ThreadingHTTPServer((HOST, port or free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def host_page(src: str, api: str, lang: str = "en", extra: str = "", body: str = "") -> str:
    """A page of another site embedding the widget with the README's tag."""
    return (
        f"<!doctype html><html lang='{lang}'><head><meta name='viewport' "
        "content='width=device-width, initial-scale=1'></head><body>"
        f"{body or '<p>A page of another site.</p>'}"
        f"<script src='{src}' data-api='{api}' data-lang='{lang}' {extra} defer></script>"
        "</body></html>"
    )


def open_panel(page: Page) -> None:
    page.locator(".launcher").click()
    expect(page.locator("#panel")).to_be_visible()


def ask(page: Page, question: str) -> None:
    page.locator("#question").fill(question)
    page.locator("#question").press("Enter")


def answered(page: Page, replies: int = 1) -> None:
    expect(page.locator(".msg-assistant")).to_have_count(replies)
    expect(page.locator(".composer .send")).to_be_visible(timeout=30_000)


def with_page(browser: Browser, test: Callable[[Page], None], **options: Any) -> None:
    context = browser.new_context(**options)
    try:
        test(context.new_page())
    finally:
        context.close()


# --- embedding on another site ------------------------------------------------------------


def test_embedded_from_an_allowed_origin_it_answers(browser: Browser, tmp_path: Path) -> None:
    port = free_port()  # the page's origin, known before the API server is told to allow it
    settings = service_settings(tmp_path, cors_origins=[f"http://{HOST}:{port}"])
    app = create_app(settings, answerer_factory=build_fake_answerer)
    with serve(app) as api, static_site({"/": host_page(f"{api}/widget.js", api)}, port) as site:

        def check(page: Page) -> None:
            page.goto(f"{site}/")
            with page.expect_response(f"{api}/readyz") as probe:  # checked when it opens
                open_panel(page)
            assert probe.value.status == 200
            expect(page.locator(".connection")).to_be_hidden()
            ask(page, QUESTION_HANS)
            answered(page)
            reply = page.locator(".msg-assistant").last
            expect(reply).not_to_have_class(re.compile(r"\berror\b"))
            expect(reply.locator(".bubble .chip").first).to_be_visible()

        with_page(browser, check)


def test_embedded_from_an_origin_the_server_does_not_allow_it_says_blocked_and_retries(
    browser: Browser, server: str
) -> None:
    with static_site({"/": host_page(f"{server}/widget.js", server)}) as origin:

        def check(page: Page) -> None:
            page.goto(f"{origin}/")
            open_panel(page)
            banner = page.locator(".connection")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("CORS")
            expect(banner).to_contain_text(server)
            expect(banner).not_to_contain_text("unreachable")
            ask(page, QUESTION_HANS)
            answered(page)
            expect(page.locator(".msg-assistant").last.locator(".bubble")).to_contain_text("CORS")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            banner.locator("button.retry").click()
            expect(banner).to_be_visible()
            assert any(u.endswith("/readyz") for u in requests), requests

        with_page(browser, check)


def test_a_server_that_is_down_is_told_apart_from_a_blocked_one(browser: Browser) -> None:
    dead = f"http://{HOST}:{free_port()}"
    with static_site({"/": host_page("/widget.js", dead)}) as origin:

        def check(page: Page) -> None:
            page.goto(f"{origin}/")
            open_panel(page)
            banner = page.locator(".connection")
            expect(banner).to_be_visible()
            expect(banner).to_contain_text("unreachable")
            expect(banner).not_to_contain_text("CORS")
            expect(banner.locator("button.retry")).to_be_visible()

        with_page(browser, check)


# --- phone --------------------------------------------------------------------------------


def test_on_a_phone_close_and_citation_chips_are_44px_touch_targets(
    browser: Browser, server: str
) -> None:
    def check(page: Page) -> None:
        page.goto(f"{server}/")
        open_panel(page)
        ask(page, QUESTION_HANS)
        answered(page)
        targets = [page.locator(".head .close"), page.locator(".bubble .chip").first]
        targets.append(page.locator(".sources .source").first)
        for target in targets:
            box = target.bounding_box()
            assert box and box["width"] >= 44 and box["height"] >= 44, box

    with_page(browser, check, viewport=PHONE, is_mobile=True, has_touch=True)


def test_on_a_phone_the_launcher_leaves_the_end_of_the_page_readable(
    browser: Browser, server: str
) -> None:
    words = " ".join(["reading"] * 400)
    body = f"<p style='margin:0;text-align:right' id='last'>{words}</p>"
    html = host_page(f"{server}/widget.js", server, body=body).replace(
        "<body>", "<body style='margin:0'>"
    )

    def check(page: Page) -> None:
        page.set_content(html)
        expect(page.locator(".launcher")).to_be_visible()
        page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
        page.wait_for_timeout(100)
        overlap = page.evaluate(
            """() => {
              const launcher = document.querySelector("ragqa-widget").shadowRoot
                .querySelector(".launcher").getBoundingClientRect();
              const range = document.createRange();
              range.selectNodeContents(document.getElementById("last"));
              return [...range.getClientRects()].some((r) =>
                r.left < launcher.right && r.right > launcher.left &&
                r.top < launcher.bottom && r.bottom > launcher.top);
            }"""
        )
        assert not overlap, "the launcher covers the last lines of the page"

    with_page(browser, check, viewport=PHONE, is_mobile=True, has_touch=True)


@pytest.mark.parametrize(
    ("question", "writing"), [(QUESTION_HANS, "正在生成回答"), (QUESTION_HANT, "正在產生回答")]
)
def test_status_lines_follow_the_questions_language_not_the_pages(
    browser: Browser, slow_server: str, question: str, writing: str
) -> None:
    def check(page: Page) -> None:
        page.set_content(host_page(f"{slow_server}/widget.js", slow_server, lang="en"))
        open_panel(page)
        ask(page, question)
        status = page.locator(".msg-assistant .status")
        expect(status).to_contain_text(writing)
        expect(page.locator("#question")).to_have_attribute("placeholder", re.compile("Ask"))
        answered(page)

    with_page(browser, check)


# --- what a chat widget is expected to do -------------------------------------------------


def test_elapsed_time_is_shown_while_waiting(browser: Browser, slow_server: str) -> None:
    def check(page: Page) -> None:
        page.set_content(host_page(f"{slow_server}/widget.js", slow_server))
        open_panel(page)
        ask(page, "Where was the forum held?")
        status = page.locator(".msg-assistant .status")
        expect(status).to_have_text(re.compile(r"\b[12] s\b"), timeout=5000)
        answered(page)
        expect(status).to_be_hidden()

    with_page(browser, check)


def test_copy_puts_the_answer_on_the_clipboard(browser: Browser, server: str) -> None:
    def check(page: Page) -> None:
        page.goto(f"{server}/")
        open_panel(page)
        ask(page, QUESTION_HANS)
        answered(page)
        reply = page.locator(".msg-assistant").last
        prose = page.evaluate(  # the answer's text without its chips
            """() => {
              const bubble = document.querySelector("ragqa-widget").shadowRoot
                .querySelector(".msg-assistant .bubble").cloneNode(true);
              bubble.querySelectorAll(".chip").forEach((chip) => chip.remove());
              return bubble.textContent;
            }"""
        )
        title = reply.locator(".sources .source").first.inner_text()
        reply.locator("button.copy").click()
        expect(reply.locator("button.copy")).to_have_text("已复制")
        answer, sources = page.evaluate("navigator.clipboard.readText()").split("\n\n")
        assert "[1]" in answer and re.sub(r"\[\d+\]", "", answer) == prose.strip()
        assert sources.splitlines()[0] == title

    with_page(browser, check, permissions=["clipboard-read", "clipboard-write"])


def test_suggested_questions_are_offered_and_asked_with_one_click(
    browser: Browser, open_server: str
) -> None:
    server = open_server
    suggestions = ["Where was the forum held?", QUESTION_HANS]
    extra = f"data-suggestions='{json.dumps(suggestions, ensure_ascii=False)}'"

    def check(page: Page) -> None:
        page.set_content(host_page(f"{server}/widget.js", server, extra=extra))
        open_panel(page)
        offered = page.locator(".suggestion")
        expect(offered).to_have_text(suggestions)
        offered.nth(1).click()
        expect(page.locator(".msg-user .bubble")).to_have_text(QUESTION_HANS)
        answered(page)
        expect(page.locator(".suggestion")).to_have_count(0)

    with_page(browser, check)


@pytest.mark.parametrize(("scheme", "dark"), [("dark", True), ("light", False)])
def test_the_theme_follows_the_systems_colour_scheme(
    browser: Browser, server: str, scheme: str, dark: bool
) -> None:
    def check(page: Page) -> None:
        page.goto(f"{server}/")
        open_panel(page)
        background = page.evaluate(
            """() => getComputedStyle(document.querySelector("ragqa-widget").shadowRoot
                 .querySelector(".log")).backgroundColor"""
        )
        red, green, blue = (int(v) for v in re.findall(r"\d+", background)[:3])
        assert ((red + green + blue) / 3 < 80) is dark, background

    with_page(browser, check, color_scheme=scheme)


def test_the_page_can_theme_the_widget_with_custom_properties(
    browser: Browser, server: str
) -> None:
    def check(page: Page) -> None:
        html = host_page(f"{server}/widget.js", server).replace(
            "<body>", "<body><style>ragqa-widget { --ragqa-accent: rgb(128, 0, 64); }</style>"
        )
        page.set_content(html)
        expect(page.locator(".launcher")).to_have_css("background-color", "rgb(128, 0, 64)")

    with_page(browser, check)
