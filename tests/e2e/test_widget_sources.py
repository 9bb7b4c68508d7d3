"""Sources a reader can check, and feedback, in a real headless Chromium against the real app
over the fake models: the source list names each document once, while streaming and after;
every citation card links to the document's page with the cited span highlighted; a thumbs-down
with a comment reaches the server's SQLite file."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from service.app import create_app
from service.feedback import FeedbackStore
from service.loopback import serve
from tests.e2e.test_widget_ux import QUESTION_HANS, answered, ask, host_page, open_panel, with_page
from tests.service.conftest import build_fake_answerer
from tests.service.conftest import make_settings as service_settings

pytestmark = pytest.mark.e2e


def test_while_streaming_each_document_is_listed_once_as_in_the_final_list(
    browser: Browser, slow_server: str
) -> None:
    # The passages the answer is written from: several are parts of one document.
    found = httpx.post(
        f"{slow_server}/v1/search",
        json={"query": QUESTION_HANS, "top_k": 4, "cross_lingual": True},
    ).json()["results"]
    titles = {r["doc_id"]: r["title"] for r in found}
    assert len(titles) < len(found), "the premise: two passages of one document"

    def check(page: Page) -> None:
        page.set_content(host_page(f"{slow_server}/widget.js", slow_server, lang="zh-CN"))
        open_panel(page)
        ask(page, QUESTION_HANS)
        reply = page.locator(".msg-assistant.streaming")
        sources = reply.locator(".sources .source")
        expect(sources).to_have_count(len(titles))  # while the answer is still coming
        streamed = [s.inner_text() for s in sources.all()]
        expect(page.locator(".msg-assistant.streaming")).to_have_count(1)  # still streaming
        names = [re.sub(r"^\[[\d, ]+\] ", "", s) for s in streamed]
        assert sorted(names) == sorted(titles.values()), streamed
        # Every passage read can be opened from the list: a document's entry opens its
        # first, a chip beside it each other one (a leading sentence is one of them). In one
        # synchronous step, so the answer's end cannot replace the list meanwhile.
        shown = page.evaluate(
            """() => {
              const reply = document.querySelector("ragqa-widget").shadowRoot
                .querySelector(".msg-assistant.streaming");
              return [...reply.querySelectorAll(".sources button[data-ref]")].map((button) => {
                button.click();
                return reply.querySelector(".card blockquote").textContent
                  .split(/\\s+/).filter(Boolean).join(" ");
              });
            }"""
        )
        passages = [" ".join(r["text"].split()) for r in found]
        assert len(shown) > len(titles) and set(passages) <= set(shown), shown
        assert all(any(quote in p for p in passages) for quote in shown), shown
        answered(page)
        final = page.locator(".msg-assistant").last.locator(".sources .source")
        final_names = [re.sub(r"^\[[\d, ]+\] ", "", s) for s in final.all_inner_texts()]
        assert final_names and len(set(final_names)) == len(final_names)
        assert set(final_names) <= set(names)

    with_page(browser, check)


def test_a_citation_card_opens_the_document_at_the_cited_span(
    browser: Browser, server: str
) -> None:
    def check(page: Page) -> None:
        page.goto(f"{server}/")
        open_panel(page)
        ask(page, QUESTION_HANS)
        answered(page)
        reply = page.locator(".msg-assistant").last
        reply.locator(".bubble .chip").first.click()
        card = reply.locator(".card")
        quote = card.locator("blockquote").inner_text()
        link = card.get_by_role("link", name="在原文中查看")
        href = link.get_attribute("href") or ""
        assert href.startswith(f"{server}/v1/documents/") and href.endswith("#cited"), href
        assert "/view?start=" in href
        with page.expect_popup() as opened:
            link.click()
        document = opened.value
        document.wait_for_load_state()
        assert document.url == href
        mark = document.locator("mark#cited")
        expect(mark).to_have_count(1)
        expect(mark).to_be_in_viewport()
        assert mark.inner_text() == quote
        doc_id = unquote(href.split("/v1/documents/", 1)[1].split("/view", 1)[0])
        text = httpx.get(f"{server}/v1/documents/{doc_id}").json()["text"]
        start, end = (int(v) for v in re.findall(r"(?:start|end)=(\d+)", href))
        assert unescape(mark.inner_text()) == text[start:end]
        assert document.evaluate("window.__xss") is None

    with_page(browser, check)


# --- feedback -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The app over the fake models, and the SQLite file its feedback goes to."""
    settings = service_settings(tmp_path_factory.mktemp("feedback"))
    with serve(create_app(settings, answerer_factory=build_fake_answerer)) as base:
        yield base, settings.feedback_path


def test_thumbs_down_with_a_comment_reaches_the_server(
    browser: Browser, rated: tuple[str, Path]
) -> None:
    server, database = rated

    def check(page: Page) -> None:
        page.goto(f"{server}/")
        open_panel(page)
        ask(page, QUESTION_HANS)
        answered(page)
        reply = page.locator(".msg-assistant").last
        comment = reply.locator("textarea.feedback-comment")
        expect(comment).to_be_hidden()  # a comment is offered once a thumb is pressed
        down = reply.get_by_role("button", name="没有帮助")
        down.click()
        expect(down).to_have_attribute("aria-pressed", "true")
        comment.fill("举办地点不对 <b>x</b>")
        reply.get_by_role("button", name="提交反馈").click()
        expect(reply.locator(".thanks")).to_have_text("感谢你的反馈。")

        (record,) = FeedbackStore(database).records()
        assert record.rating == "down" and record.comment == "举办地点不对 <b>x</b>"
        assert record.question == QUESTION_HANS and "[1]" in record.answer
        assert record.history == [] and not record.refused
        assert record.citations and all(
            c["doc_id"].endswith(".txt") and c["end"] > c["start"] for c in record.citations
        )
        metrics = httpx.get(f"{server}/metrics").text
        assert 'ragqa_feedback_total{rating="down"} 1.0' in metrics

        page.reload()  # the rating is remembered with the conversation
        open_panel(page)
        expect(page.locator(".msg-assistant").last.locator(".thanks")).to_be_visible()
        ask(page, "那次论坛是谁主持的？")  # a follow-up, rated up without a comment
        answered(page, 2)
        second = page.locator(".msg-assistant").last
        second.get_by_role("button", name="有帮助", exact=True).click()
        second.get_by_role("button", name="提交反馈").click()
        expect(second.locator(".thanks")).to_be_visible()
        up = FeedbackStore(database).records("up")
        assert len(up) == 1 and up[0].comment == ""
        assert [t["role"] for t in up[0].history] == ["user", "assistant"]
        assert up[0].history[0]["content"] == QUESTION_HANS

    with_page(browser, check)
