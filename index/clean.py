"""Cleaning of scraped article text, and the metadata found in it.

Each step is a pure function on the whole text; `clean_text` composes them in a fixed order.
The rules are general patterns of scraped news pages (pinyin glosses, doubled marks, breadcrumbs,
copyright footers, view counters, captions), not string lists tuned to particular files.
Decisions worth knowing:

* The document keeps its own script: traditional text stays traditional (folding happens only in
  the lexical index, see index/textnorm.py).
* A header line ``标题: X`` is unwrapped to ``X`` so the title stays searchable at the top of the
  text; the other header fields (date, source, editor, views, ``正文内容:``) become metadata only.
* An ASCII comma is written as ``，`` when it sits in Chinese text (see `collapse_punctuation`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date

from index.documents import DocumentMeta

# --- character classes -------------------------------------------------------------------------

_IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# Full-width punctuation, quotes and brackets that only appear in CJK text.
_CJK_MARKS = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026\u2014"
)
_CJK_CHAR = re.compile(f"[{_IDEOGRAPHS}]")
_CJK_CONTEXT = re.compile(f"[{_IDEOGRAPHS}{_CJK_MARKS}]")
_ASCII_ALNUM = re.compile(r"[A-Za-z0-9]")

_TONED_VOWELS = "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜ"
_PLAIN_FOR_TONED = "aaaaeeeeiiiioooouuuuvvvv"
_PINYIN_LETTERS = f"a-z{_TONED_VOWELS}ü"
# One pinyin syllable after tone marks are folded away (ü written v): optional initial + final.
_SYLLABLE = (
    r"(?:zh|ch|sh|[bpmfdtnlgkhjqxrzcsyw])?"
    r"(?:iang|iong|uang|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ao|an|ei|en|er|ia|ie|in|iu"
    r"|ou|ua|ue|ui|un|uo|ve|vn|a|e|i|o|u|v)"
)
_PINYIN_RUN = re.compile(rf"(?:{_SYLLABLE})+(?:[ '](?:{_SYLLABLE})+)*")
_GLUED_PINYIN = re.compile(
    # "(gloss)" after an ideograph or a "?" that stands for a lost one, or "?gloss)" where the
    # lost character swallowed the opening parenthesis as well.
    rf"(?<=[{_IDEOGRAPHS}?])\(([{_PINYIN_LETTERS} ']{{1,40}})\)"
    rf"|(?<=[{_IDEOGRAPHS}])(\?)([{_PINYIN_LETTERS}]{{1,12}})\)"
)

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
_SECTION_LABEL = re.compile(rf"^[{_IDEOGRAPHS}]{{2,16}}正文$")

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
_MONTHS = {
    m: i
    for i, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for m in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DATE_PATTERNS = (
    re.compile(r"(?P<y>\d{4})\s*年\s*(?P<m>\d{1,2})\s*月\s*(?P<d>\d{1,2})"),
    re.compile(r"(?<!\d)(?P<y>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})(?!\d)"),
    re.compile(
        rf"\b(?P<m>{_MONTH_NAME})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b",
        re.IGNORECASE,
    ),
    re.compile(
        rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTH_NAME})\.?,?\s+(?P<y>\d{{4}})\b",
        re.IGNORECASE,
    ),
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


# --- the cleaning steps ------------------------------------------------------------------------


def _fold_tones(syllables: str) -> str:
    return syllables.translate(str.maketrans(_TONED_VOWELS + "ü", _PLAIN_FOR_TONED + "v"))


def _is_pinyin_gloss(content: str) -> bool:
    """Pinyin with at least one tone mark: plain ``(a)`` after a CJK word is often a label."""
    has_tone = any(ch in _TONED_VOWELS for ch in content)
    return has_tone and _PINYIN_RUN.fullmatch(_fold_tones(content.strip())) is not None


def strip_glued_pinyin(text: str) -> str:
    """Remove pinyin glued to characters: ``醫(yī)科`` -> ``醫科``, ``重要?zhàn)略`` -> ``重要?略``.

    Only a parenthesis right after an ideograph (or the ``?`` of a lost one) whose content is
    tone-marked pinyin goes; ``(完)``, ``(記者 王鵬)`` and ``(see above)`` stay.
    """

    def replace(match: re.Match[str]) -> str:
        gloss = match.group(1) if match.group(1) is not None else match.group(3)
        if not _is_pinyin_gloss(gloss):
            return match.group(0)
        return match.group(2) or ""

    return _GLUED_PINYIN.sub(replace, text)


def _neighbour(chars: list[str], index: int, step: int) -> str:
    """The nearest non-space character from `index` in direction `step` ('' at the edge)."""
    index += step
    while 0 <= index < len(chars) and chars[index] in " \t\u3000\u00a0":
        index += step
    return chars[index] if 0 <= index < len(chars) else ""


def _is_cjk_comma(chars: list[str], index: int) -> bool:
    left, right = _neighbour(chars, index, -1), _neighbour(chars, index, 1)
    if left and _CJK_CONTEXT.fullmatch(left):
        return True
    return bool(right and _CJK_CHAR.fullmatch(right)) and not (
        left and _ASCII_ALNUM.fullmatch(left)
    )


# Strongest first: a run of marks becomes its strongest member.
_MARK_STRENGTH = "。！？；：、，"
_MARK_RUN = re.compile(r"[。！？；：、，](?:[ \t\u3000]*[。！？；：、，])+")


def _strongest_mark(run: str) -> str:
    marks = [ch for ch in run if ch in _MARK_STRENGTH]
    if set(marks) <= {"！", "？"}:
        return run  # "？！" is emphasis a Chinese reader writes on purpose
    return min(marks, key=_MARK_STRENGTH.index)


def collapse_punctuation(text: str) -> str:
    """Write Chinese commas as ``，`` and fold doubled marks into the one a reader expects.

    Rule: an ASCII comma becomes ``，`` when the nearest character before it is Chinese (an
    ideograph or a full-width mark), or the one after it is an ideograph and the one before is
    not an ASCII letter/digit. So ``召開,其中`` -> ``召開，其中`` while ``1,000`` and
    ``Prof. Li, the`` are untouched. Then a run of Chinese marks becomes its strongest
    member (``。！？`` > ``；`` > ``：`` > ``、`` > ``，``): ``,。`` -> ``。``, ``,,`` -> ``，``,
    ``,、`` -> ``、``.
    """
    chars = list(text)
    for index, ch in enumerate(chars):
        if ch == "," and _is_cjk_comma(chars, index):
            chars[index] = "，"  # left to right, so ",," sees the "，" it just wrote
    return _MARK_RUN.sub(lambda m: _strongest_mark(m.group(0)), "".join(chars))


def normalise_whitespace(text: str) -> str:
    """One ``\\n`` per line break, no edge or doubled spaces in lines, one blank line per paragraph.

    Full-width spaces and no-break spaces count as spaces; zero-width marks are dropped.
    """
    text = re.sub(r"[\u200b\u200c\u200d\u2060\ufeff]", "", text)
    text = re.sub(r"\r\n?|[\u2028\u2029\x0b\x0c\x85]", "\n", text)
    lines = [
        re.sub(r"[ \t\u3000\u00a0\u2002-\u200a\u202f\u205f]+", " ", line).strip()
        for line in text.split("\n")
    ]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


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
    return len(line) <= 200 and _find_date(line) is not None and bool(_BYLINE_LABEL.search(line))


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
    return bool(_CJK_CHAR.fullmatch(line[-1])) or line[-1] in "，、"


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
            and _CJK_CHAR.fullmatch(line[0])
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


def _iso(year: int, month: int, day: int) -> str | None:
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return None


def _find_date(text: str) -> str | None:
    """The first full date (year, month, day) in `text`, as ISO ``YYYY-MM-DD``."""
    found: list[tuple[int, str]] = []
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            month = match.group("m")
            month_number = int(month) if month.isdigit() else _MONTHS[month.lower()]
            iso = _iso(int(match.group("y")), month_number, int(match.group("d")))
            if iso is not None:
                found.append((match.start(), iso))
                break
    return min(found)[1] if found else None


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
        _find_date(line) for line in header if _DATE_LABEL.search(line) or _is_dateline(line)
    ) or (_find_date(text) or "")
    source = _first(
        m.group(1) if (m := _SOURCE.search(line)) and not _COPYRIGHT.search(line) else None
        for line in lines
    )
    return DocumentMeta(title=title, date=date_text, source=source)


def parse_date(text: str) -> str:
    """ISO ``YYYY-MM-DD`` of the first full date in `text`, or '' (for HTML ``<time>``/meta)."""
    return _find_date(text) or ""
