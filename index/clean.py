"""Cleaning of scraped article text, and the metadata found in it.

Each step is a pure function on the whole text; `clean_text` composes them in a fixed order:
the character-level steps of `index/clean_chars.py` and the line rules here. The rules are
general patterns of scraped news pages (pinyin glosses, doubled marks, breadcrumbs,
copyright footers, view counters, captions), not string lists tuned to particular files.
Decisions worth knowing:

* The document keeps its own script: traditional text stays traditional (folding happens only in
  the lexical index, see index/textnorm.py).
* A header line ``标题: X`` is unwrapped to ``X`` so the title stays searchable at the top of the
  text; the other header fields (date, source, editor, views, ``正文内容:``) become metadata only.
* An ASCII comma is written as ``，`` when it sits in Chinese text (see
  `index.clean_chars.collapse_punctuation`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from index.clean_chars import (
    CJK_CHAR,
    IDEOGRAPHS,
    collapse_punctuation,
    normalise_whitespace,
    strip_glued_pinyin,
)
from index.dates import find_date
from index.documents import DocumentMeta

# --- line rules --------------------------------------------------------------------------------

_SHORT_LINE = 80
_BULLET_NAV = re.compile(r"^[•·●▪◦]\s*(?:[A-Za-z][\w&'-]*|[\u4e00-\u9fff]{1,6})$")
_COPYRIGHT = re.compile(
    r"©|\(c\)\s*\d{4}|copyright|all rights reserved|版[权權](?:所有|声明|聲明|均)|免[责責]"
    r"|ICP[备備证證]",
    re.IGNORECASE,
)
_DISCLAIMER_ITEM = re.compile(r"^[①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳]")
_COUNTER = re.compile(
    r"^(?:[浏瀏][览覽]|[阅閱][读讀]|[点點][击擊]|[访訪][问問])(?:次[数數]|量|[数數])?\s*[:：]?\s*\d*\s*次?$"
    r"|^(?:page\s*views?|views?|hits|reads|visits)\s*[:：]?\s*\d*$",
    re.IGNORECASE,
)
_CAPTION = re.compile(
    r"^(?:[图圖][为為]|[图圖]片[:：])|(?:供[图圖]|(?<=[\s/])[摄攝]影?|[图圖]片[来來]源.*)$"
)
_PHOTO_CODE = re.compile(r"^(?=.*\d)[A-Z0-9]{4,8}$")
_SECTION_LABEL = re.compile(rf"^[{IDEOGRAPHS}]{{2,16}}正文$")

# --- header / metadata -------------------------------------------------------------------------

_HEADER_ZONE_LINES = 10
_TITLE_LABEL = re.compile(r"^(?:标题|標題|题目|題目|title)\s*[:：]\s*(.+)$", re.IGNORECASE)
_HEADER_LABEL = re.compile(
    r"^(?:发布日期|發布日期|發佈日期|日期|发布时间|發布時間|时间|時間|来源|來源|作者|编辑|編輯"
    r"|责任编辑|責任編輯|浏览次数|瀏覽次數|正文内容|正文內容|正文|date|time|published|source"
    r"|author|auth|editor|page\s*view)\s*[:：]",
    re.IGNORECASE,
)
_BYLINE_LABEL = re.compile(
    r"(?:来源|來源|编辑|編輯|作者|责任编辑|責任編輯|source|auth|author|editor)\s*[:：]",
    re.IGNORECASE,
)
_SOURCE = re.compile(r"(?:来源|來源|source)\s*[:：]\s*([^\s:：]+)", re.IGNORECASE)
_DATE_LABEL = re.compile(
    r"(?:发布日期|發布日期|發佈日期|日期|发布时间|發布時間|时间|時間|date|time|published)\s*[:：]",
    re.IGNORECASE,
)
_TITLE_MIN_CHARS = 4
_TITLE_MAX_CHARS = 300
_SENTENCE_END = "。！？.!?；;，,：:、"
_SUBTITLE = re.compile(r"^(?:——|—|--)\s*\S")
_FIRST_CLAUSE = re.compile(r"^.+?(?=[。！？!?；;]|$)")
_FALLBACK_TITLE_CHARS = 80
_WRAPPED_LINE_MIN = 20
_CLAUSE_MARK = re.compile("[，。、；]")
_CONTINUATION_MIN = 15


# --- the line steps ----------------------------------------------------------------------------


def _is_breadcrumb(line: str) -> bool:
    return len(line) <= _SHORT_LINE and len(re.findall(r"[>＞»›]", line)) >= 2


def _is_boilerplate(line: str) -> bool:
    """A line that belongs to the page around the article, not to the article."""
    short = len(line) <= _SHORT_LINE
    return (
        _is_breadcrumb(line)
        or bool(_BULLET_NAV.match(line))
        or bool(_COPYRIGHT.search(line))
        or bool(_COUNTER.match(line))
        or (short and bool(_CAPTION.search(line)))
        or bool(_PHOTO_CODE.match(line))
        or bool(_SECTION_LABEL.match(line))
    )


def drop_boilerplate_lines(text: str) -> str:
    """Drop navigation, copyright/disclaimer blocks, counters, captions, photo codes, repeats.

    Rules: breadcrumb = short line with two or more ``>`` separators; copyright = ©, 版权/版權
    声明, 免责/免責, "All rights reserved", ICP备 (and the ①②③ items after such a heading);
    counter = a views/浏览次数 label with an optional number; caption = short ``图为…`` / ``…供图``
    line; photo code = a lone 4-8 character code of capitals and digits (``AE29``); a short line
    seen before is dropped after its first appearance.
    """
    kept: list[str] = []
    seen_short: set[str] = set()
    in_disclaimer = False
    for line in text.split("\n"):
        if not line:
            in_disclaimer = False
            kept.append(line)
            continue
        if in_disclaimer and _DISCLAIMER_ITEM.match(line):
            continue
        if _is_boilerplate(line):
            in_disclaimer = in_disclaimer or bool(_COPYRIGHT.search(line))
            continue
        in_disclaimer = False
        if len(line) <= _SHORT_LINE:
            if line in seen_short:
                continue
            seen_short.add(line)
        kept.append(line)
    return "\n".join(kept)


def _header_zone(lines: list[str]) -> int:
    """Index just past the first `_HEADER_ZONE_LINES` non-empty lines: where header fields live."""
    seen = 0
    for index, line in enumerate(lines):
        if line:
            seen += 1
            if seen > _HEADER_ZONE_LINES:
                return index
    return len(lines)


def _is_dateline(line: str) -> bool:
    """``2024年06月25日 14:15 來源:X 編輯:Y`` or ``Time:… Auth:…``: a date plus a byline label."""
    return len(line) <= 200 and find_date(line) is not None and bool(_BYLINE_LABEL.search(line))


def strip_metadata_header(text: str) -> str:
    """Unwrap ``标题: X`` to ``X``; drop the other labelled header lines and the dateline.

    Only the first lines are looked at, so a ``时间：`` line inside the article body stays.
    """
    lines = text.split("\n")
    zone = _header_zone(lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        if index < zone:
            title = _TITLE_LABEL.match(line)
            if title:
                out.append(title.group(1).strip())
                continue
            if _HEADER_LABEL.match(line) or _is_dateline(line):
                continue
        out.append(line)
    return "\n".join(out)


def _ends_open(line: str) -> bool:
    return bool(CJK_CHAR.fullmatch(line[-1])) or line[-1] in "，、"


def join_wrapped_lines(text: str) -> str:
    """Re-join Chinese sentences that the page broke across paragraphs (``最前\\n\\n沿，以…``).

    A prose line (it holds a Chinese clause mark) that ends in an ideograph or ``，、``, followed
    by a substantial line starting with an ideograph, is one sentence. Headings, subtitles and
    captions hold no clause marks, so they are never joined.
    """
    out: list[str] = []
    for line in text.split("\n"):
        previous = next((i for i in range(len(out) - 1, -1, -1) if out[i]), None)
        if (
            previous is not None
            and len(out[previous]) >= _WRAPPED_LINE_MIN
            and _CLAUSE_MARK.search(out[previous])
            and len(line) >= _CONTINUATION_MIN
            and _ends_open(out[previous])
            and CJK_CHAR.fullmatch(line[0])
        ):
            out[previous] += line
            del out[previous + 1 :]
            continue
        out.append(line)
    return "\n".join(out)


_STEPS: tuple[Callable[[str], str], ...] = (
    normalise_whitespace,
    strip_glued_pinyin,
    collapse_punctuation,
    strip_metadata_header,
    drop_boilerplate_lines,
    join_wrapped_lines,
    normalise_whitespace,
)


def clean_text(raw: str) -> str:
    """The article text of a scraped page: every cleaning step above, in order."""
    text = raw
    for step in _STEPS:
        text = step(text)
    return text


# --- metadata ----------------------------------------------------------------------------------


def _first(values: Iterable[str | None]) -> str:
    return next((value for value in values if value), "")


def _is_heading(line: str) -> bool:
    return (
        _TITLE_MIN_CHARS <= len(line) <= _TITLE_MAX_CHARS
        and line[-1] not in _SENTENCE_END
        and not _is_boilerplate(line)
        and not _HEADER_LABEL.match(line)
        and not _is_dateline(line)
        and not _SUBTITLE.match(line)
    )


def _heading_title(lines: list[str]) -> str:
    """The first heading-like line of the header zone, with a ``——subtitle`` line appended."""
    candidates = [line for line in lines if line][:_HEADER_ZONE_LINES]
    for index, line in enumerate(candidates):
        if _is_heading(line):
            following = candidates[index + 1] if index + 1 < len(candidates) else ""
            return line + following if _SUBTITLE.match(following) else line
    return ""


def _fallback_title(body: str) -> str:
    """No heading: the opening clause of the article, cut at a clause mark if it runs long."""
    first_line = next((line for line in body.split("\n") if line), "")
    match = _FIRST_CLAUSE.match(first_line)
    title = match.group(0) if match else first_line
    if len(title) > _FALLBACK_TITLE_CHARS:
        cut = max(title.rfind(mark, 0, _FALLBACK_TITLE_CHARS) for mark in "，,、 ")
        title = title[: cut if cut > 0 else _FALLBACK_TITLE_CHARS]
    return title.strip()


def extract_metadata(raw: str, *, filename: str) -> DocumentMeta:
    """Title, ISO date and source found in the text of a scraped article.

    title: a ``标题:`` line, else the first heading-like line near the top (plus its ``——``
    subtitle), else the opening clause of the article, else the file name.
    date: a labelled date line, else a dateline, else the first full date in the text.
    source: a ``来源:``/``Source:`` value outside copyright notices.
    """
    text = collapse_punctuation(strip_glued_pinyin(normalise_whitespace(raw)))
    lines = text.split("\n")
    header = lines[: _header_zone(lines)]
    labelled_title = _first(
        m.group(1).strip() if (m := _TITLE_LABEL.match(line)) else None for line in header
    )
    title = labelled_title or _heading_title(header) or _fallback_title(clean_text(raw)) or filename
    date_text = _first(
        find_date(line) for line in header if _DATE_LABEL.search(line) or _is_dateline(line)
    ) or (find_date(text) or "")
    source = _first(
        m.group(1) if (m := _SOURCE.search(line)) and not _COPYRIGHT.search(line) else None
        for line in lines
    )
    return DocumentMeta(title=title, date=date_text, source=source)


def parse_date(text: str) -> str:
    """ISO ``YYYY-MM-DD`` of the first full date in `text`, or '' (for HTML ``<time>``/meta)."""
    return find_date(text) or ""
