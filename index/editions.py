"""Editions of recurring events as questions and articles number them: 第三届 / 第二十一次 / the
13th annual conference, read as integers (`cn2an` for Chinese numerals).

A question about an edition the documents never number ("when will the third forum be
held?", asked of an article on the second) shares no premise with them: the answer a small
model writes from the second edition's passages is the wrong event's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import cn2an

from index.textnorm import to_simplified

_ZH_EDITION = re.compile(r"第\s*([零〇一二两三四五六七八九十百\d]+)\s*[届屆次期]")
_EN_WORDS = [
    *("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
    *("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth"),
    *("seventeenth", "eighteenth", "nineteenth", "twentieth"),
]
_EN_ORDINAL = rf"(?:(\d{{1,3}})(?:st|nd|rd|th)|({'|'.join(_EN_WORDS)}))"
# An English ordinal numbers an edition when an event's name follows it within a few words
# ("the 21st Sichuan Medical Association nuclear medicine conference"), not a term or a place.
_EN_EDITION = re.compile(
    rf"\b{_EN_ORDINAL}\b(?=(?:[\s-]+[\w'’-]+){{0,8}}?[\s-]+(?:annual|edition|session|conference"
    r"|forum|summit|congress|meeting|symposium|exchange|competition|contest|assembly)s?\b)",
    re.IGNORECASE,
)
_EN_ANY = re.compile(rf"\b{_EN_ORDINAL}\b", re.IGNORECASE)


def _english(match: re.Match[str]) -> int:
    digits, word = match.groups()
    return int(digits) if digits else _EN_WORDS.index(word.lower()) + 1


def _chinese(numeral: str) -> int | None:
    if numeral.isdigit():
        return int(numeral)
    try:
        return int(cn2an.cn2an(numeral, "smart"))
    except (ValueError, KeyError):  # a scraped typo such as 二十一一
        return None


_FIRST = re.compile(r"首[届屆次期]")
# A question asking which edition something was: its answer names one the question does not.
_WHICH = re.compile(
    r"第几|哪一?[届屆次期]|[几多少]+[届屆次期]"
    r"|\b(?:which|what)\s+(?:edition|session|number)|\bhow many\s+(?:times|editions|sessions)\b",
    re.IGNORECASE,
)


def edition_numbers(text: str) -> set[int]:
    """The edition numbers the text gives: 第N届/屆/次/期 and 首届, or an English ordinal
    before an event's name."""
    simplified = to_simplified(text)
    found = {_english(m) for m in _EN_EDITION.finditer(text)}
    found |= {n for m in _ZH_EDITION.finditer(simplified) if (n := _chinese(m[1]))}
    return found | ({1} if _FIRST.search(simplified) else set())


def editions_asked(question: str) -> set[int]:
    """The edition numbers the question gives, the first left out (首届, "the first
    conference" and "since it began" are one edition written many ways)."""
    return {n for n in edition_numbers(question) if n > 1}


def asks_edition(question: str) -> bool:
    """The question asks which edition something was (第几届, "which edition")."""
    return bool(_WHICH.search(question))


def other_edition(claim: str, question: str) -> bool:
    """The claim numbers editions and none of them is one the question asks about ("第二届…在
    太原举办" for a question on 第一届): it tells of another event. Not for a question asking
    which edition it was."""
    asked = edition_numbers(question)
    if not asked or asks_edition(question):
        return False
    stated = edition_numbers(claim)
    return bool(stated) and not stated & asked


def states_edition(number: int, text: str) -> bool:
    """The text numbers something with `number`: 第N届/次/期 in any script, or an English
    ordinal anywhere. A Chinese numeral that begins as `number`'s does counts too (a scraped
    page's 第二十一一次 is the 21st)."""
    if any(_english(m) == number for m in _EN_ANY.finditer(text)):
        return True
    written = cn2an.an2cn(number)
    for m in _ZH_EDITION.finditer(to_simplified(text)):
        if _chinese(m[1]) == number or m[1].startswith(written):
            return True
    return False


def editions_unknown(question: str, texts: Iterable[str]) -> list[int]:
    """The edition numbers of the question that none of the texts states (read only when the
    question gives one)."""
    asked = editions_asked(question)
    if not asked:
        return []
    texts = list(texts)
    return sorted(n for n in asked if not any(states_edition(n, t) for t in texts))
