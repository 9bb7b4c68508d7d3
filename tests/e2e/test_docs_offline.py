"""`/docs` and `/redoc` render in a real Chromium with every other host out of reach."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, Route, expect

pytestmark = pytest.mark.e2e


@pytest.fixture
def offline_page(browser: Browser, server: str) -> Iterator[tuple[Page, list[str]]]:
    """A page that can reach only `server`; `elsewhere` lists what it tried to fetch besides."""
    context = browser.new_context()
    elsewhere: list[str] = []

    def only_the_server(route: Route) -> None:
        if route.request.url.startswith(server):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_server)
    yield context.new_page(), elsewhere
    context.close()


def test_swagger_ui_lists_the_routes_offline(
    offline_page: tuple[Page, list[str]], server: str
) -> None:
    page, elsewhere = offline_page
    page.goto(f"{server}/docs")
    expect(page.locator(".opblock-summary-path", has_text="/v1/ask")).to_be_visible()
    expect(page.locator(".opblock-summary-path", has_text="/v1/models")).to_be_visible()
    assert elsewhere == []


def test_redoc_shows_the_stream_events_offline(
    offline_page: tuple[Page, list[str]], server: str
) -> None:
    page, elsewhere = offline_page
    page.goto(f"{server}/redoc")
    expect(page.get_by_text("PassagesEventData").first).to_be_attached(timeout=20_000)
    assert elsewhere == []
