"""Character-level cleaning of scraped article text: pinyin glosses, punctuation, whitespace.

Each step is a pure function on the whole text; `index/clean.py` composes them with the line
rules. The document keeps its own script; an ASCII comma is written as ``，`` when it sits in
Chinese text (see `collapse_punctuation`).
"""

from __future__ import annotations

import re

IDEOGRAPHS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# Full-width punctuation, quotes and brackets that only appear in CJK text.
_CJK_MARKS = (
    "\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f\uff3b-\uff40\uff5b-\uff65\u2018-\u201f\u2026\u2014"
)
CJK_CHAR = re.compile(f"[{IDEOGRAPHS}]")
_CJK_CONTEXT = re.compile(f"[{IDEOGRAPHS}{_CJK_MARKS}]")
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
    rf"(?<=[{IDEOGRAPHS}?])\(([{_PINYIN_LETTERS} ']{{1,40}})\)"
    rf"|(?<=[{IDEOGRAPHS}])(\?)([{_PINYIN_LETTERS}]{{1,12}})\)"
)


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
    return bool(right and CJK_CHAR.fullmatch(right)) and not (left and _ASCII_ALNUM.fullmatch(left))


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
