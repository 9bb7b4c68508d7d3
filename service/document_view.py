"""A document as a page, with one span of its cleaned text highlighted: what a citation's
`url` opens, so a reader can check the cited words in their context.

The span is given by character offsets into the cleaned text (the offsets every passage and
citation carries), so any span works: a passage, a quote, or a single sentence. The document's
text is untrusted: every character of it is HTML-escaped, and the page has no script at all
(the app's page policy forbids inline scripts anyway); the span is scrolled to by the URL's
`#cited` fragment.
"""

from __future__ import annotations

from html import escape
from urllib.parse import quote, urlsplit

from index.manifest import DocumentEntry
from ragqa.errors import InvalidRequest

ANCHOR = "cited"

_STYLE = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1f2933; --muted: #52606d;
  --mark: #ffe58f; --mark-fg: #1f2933; --line: #d5dbe3; --link: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #15191e; --fg: #e4e7eb; --muted: #9aa5b1; --mark: #8a6d00; --mark-fg: #fff;
    --line: #39424e; --link: #8cc4ff; }
}
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.7 system-ui, -apple-system, "Segoe UI", "Noto Sans CJK SC", sans-serif; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 40vh; }
h1 { font-size: 1.3rem; line-height: 1.4; margin: 0 0 .25rem; }
.meta { color: var(--muted); font-size: .85rem; margin: 0 0 1rem;
  padding-bottom: .75rem; border-bottom: 1px solid var(--line); }
.meta a { color: var(--link); }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
mark { background: var(--mark); color: var(--mark-fg); padding: .1em 0; border-radius: 2px;
  scroll-margin-top: 30vh; }
"""


def view_url(doc_id: str, start: int, end: int) -> str:
    """The view of `doc_id` with [start, end) highlighted, relative to the API's base URL."""
    return f"/v1/documents/{quote(doc_id, safe='/')}/view?start={start}&end={end}#{ANCHOR}"


def check_span(start: int | None, end: int | None, length: int) -> tuple[int, int] | None:
    """The span to highlight, or None for the whole document unmarked; a span that does not
    lie within the text is refused with the reason."""
    if start is None and end is None:
        return None
    if start is None or end is None:
        raise InvalidRequest("give both start and end, or neither")
    if start < 0 or end < 0:
        raise InvalidRequest(f"offsets must not be negative (start {start}, end {end})")
    if start >= end:
        raise InvalidRequest(f"start ({start}) must be less than end ({end})")
    if end > length:
        raise InvalidRequest(
            f"end ({end}) is past the end of the document's text ({length} characters)"
        )
    return start, end


def _source_link(url: str) -> str:
    """The document's original address, as a link only when it is http(s)."""
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return escape(url)
    return f'<a href="{escape(url)}" rel="noopener noreferrer">{escape(url)}</a>'


def render(entry: DocumentEntry, text: str, span: tuple[int, int] | None) -> str:
    """The page: title, where the document came from, then its text with the span marked."""
    if span is None:
        body = escape(text)
    else:
        start, end = span
        body = (
            f'{escape(text[:start])}<mark id="{ANCHOR}">{escape(text[start:end])}</mark>'
            f"{escape(text[end:])}"
        )
    meta = [escape(entry.doc_id)]
    if entry.date:
        meta.append(escape(entry.date))
    if entry.source:
        meta.append(escape(entry.source))
    if entry.url:
        meta.append(_source_link(entry.url))
    lang = "en" if entry.language == "en" else "zh"
    return (
        f'<!doctype html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(entry.title or entry.doc_id)}</title>\n<style>{_STYLE}</style>\n"
        f"</head>\n<body>\n<main>\n<h1>{escape(entry.title or entry.doc_id)}</h1>\n"
        f'<p class="meta">{" · ".join(meta)}</p>\n'
        f'<div class="text">{body}</div>\n</main>\n</body>\n</html>\n'
    )
