"""Answers as markdown in the widget, and still no markup or script from an answer.

A real headless Chromium against the real app, whose fake model answers with markdown that
also carries HTML, a script, a `javascript:` link and a link no passage states. The server's
answer guard drops those sentences before they are sent (service/answer_guard.py); the widget
renders the rest as sanitised markdown.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from service.loopback import serve
from tests.e2e.test_widget_ux import answered, ask, host_page, open_panel, with_page
from tests.fakes import FakeGenerator
from tests.service.conftest import app_with_generators
from tests.service.conftest import make_settings as service_settings

pytestmark = pytest.mark.e2e

MARKDOWN_ANSWER = (
    "**Taiyuan** hosted the forum [1].\n\n- held by the *centre* [1]\n- see `code` [1]\n\n"
    'Markup <img src=x onerror="window.__xssImg=true"> and '
    "<script>window.__xssScript=true</script> stays text [1]. "
    "A [link](javascript:window.__xssLink=true) and a [site](https://example.org) [1]."
)


@pytest.fixture(scope="module")
def markdown_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Open to any origin, with a model whose answer is markdown with markup in it."""
    settings = service_settings(tmp_path_factory.mktemp("markdown"), cors_origins=["*"])
    model = FakeGenerator(lambda _: MARKDOWN_ANSWER)
    with serve(app_with_generators(settings, model)) as base:
        yield base


def test_answers_are_rendered_as_markdown_with_their_chips(
    browser: Browser, markdown_server: str
) -> None:
    def check(page: Page) -> None:
        page.set_content(host_page(f"{markdown_server}/widget.js", markdown_server))
        open_panel(page)
        ask(page, "Where was the forum held?")
        answered(page)
        bubble = page.locator(".msg-assistant .bubble")
        expect(bubble.locator("strong")).to_have_text("Taiyuan")
        expect(bubble.locator("ul > li")).to_have_count(2)
        expect(bubble.locator("li em")).to_have_text("centre")
        expect(bubble.locator("code")).to_have_text("code")
        expect(bubble.locator(".chip")).to_have_count(3)  # the markup and link sentences went

    with_page(browser, check)


def test_markup_in_an_answer_is_shown_as_text_and_never_run(
    browser: Browser, markdown_server: str
) -> None:
    def check(page: Page) -> None:
        page.set_content(host_page(f"{markdown_server}/widget.js", markdown_server))
        open_panel(page)
        ask(page, "Where was the forum held?")
        answered(page)
        bubble = page.locator(".msg-assistant .bubble")
        expect(bubble).to_contain_text("Taiyuan")
        expect(bubble).not_to_contain_text("onerror")
        expect(bubble).not_to_contain_text("__xss")
        page.locator("button.copy").focus()  # whatever renders has had its chance to run
        root = 'document.querySelector("ragqa-widget").shadowRoot'
        assert page.evaluate(f"{root}.querySelectorAll('img, script, iframe').length") == 0
        links = page.evaluate(
            f"[...{root}.querySelectorAll('.bubble a')].map(a => a.getAttribute('href'))"
        )
        assert links == [], links  # neither the javascript: link nor one no passage states
        flags = "[window.__xssImg, window.__xssScript, window.__xssLink]"
        assert page.evaluate(flags) == [None, None, None]

    with_page(browser, check)
