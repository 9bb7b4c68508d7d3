"""People's names in English answers spelled as the passages' names are read.

A small model writing English from Chinese passages renders a name by its characters'
meanings (易群 as "Easy Qun", 石洪成 as "Stone Hongcheng") or only half ("Easy 群"), and users
cannot find that person in the passage. Such a name becomes its pinyin with its characters,
"Yi Qun (易群)". A name is respelled only when its given name is that of exactly one person
the passages name and its surname is not that person's; a name that is the reading of some
characters of the passages (a person the name tagger missed) stays as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from index.names import person_names
from index.textnorm import pinyin_ngrams
from service.language import to_simplified

if TYPE_CHECKING:
    from service.passages import Passage

# Two words, the second a given name in pinyin or in one or two characters ("Easy 群").
_PAIR = re.compile(r"(?<![\w-])(?=([A-Z][a-z]+) ([A-Z][a-z]+(?:-[a-z]+)?|[\u3400-\u9fff]{1,2})\b)")
_GLOSSED = re.compile(r"\s*[(（]([\u3400-\u9fff]{2,4})[)）]")
_HAN = re.compile(r"[\u3400-\u9fff]+")
# Words that stand before a name without being its surname (before a single word, they
# stand before a surname: "Professor Li").
_BEFORE_NAME = frozenset({
    "professor", "prof", "dr", "mr", "mrs", "ms", "madam", "director", "president", "chairman",
    "chair", "secretary", "dean", "academician", "vice", "deputy", "reporter", "doctor",
    "the", "a", "an", "by", "of", "and", "to", "from", "with", "for", "on", "in", "at", "as",
    "is", "was",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Person:
    written: str  # as the passage writes it: 易群
    surname: str  # pinyin, lower case: yi
    given: str  # the given name in pinyin, lower case: qun
    given_han: str  # 群, simplified

    @property
    def spelled(self) -> str:
        return f"{self.surname.capitalize()} {self.given.capitalize()}"


@dataclass(frozen=True, slots=True)
class _Named:
    people: tuple[_Person, ...]
    readings: frozenset[str]  # pinyin of each two and three adjacent characters, joined


@lru_cache(maxsize=256)
def _named(texts: tuple[str, ...]) -> _Named:
    people: dict[str, _Person] = {}
    for text in texts:
        for written, romanised in person_names(text):
            surname, given = romanised.lower().split(" ", 1)
            simplified = to_simplified(written)
            people.setdefault(simplified, _Person(written, surname, given, simplified[1:]))
    readings = frozenset(gram for text in texts for gram in pinyin_ngrams(text))
    return _Named(tuple(people.values()), readings)


def _letters(word: str) -> str:
    return re.sub(r"[^a-z]", "", word.lower())


def _person(surname: str, given: str, named: _Named) -> _Person | None:
    """The one person of the passages whose given name `given` is, in pinyin with another
    surname or in characters; None when there is none, several, or `surname given` reads as
    written."""
    if _HAN.fullmatch(given):
        people = {p for p in named.people if p.given_han == to_simplified(given)}
    else:
        people = {p for p in named.people if p.given == _letters(given)}
    if len(people) != 1:
        return None
    person = people.pop()
    if surname.lower() in _BEFORE_NAME:
        return None  # a title before a surname: "Professor Li"
    if _HAN.fullmatch(given):
        return person  # half in characters: "Tian 蓉", "Easy 群"
    if _letters(surname) == person.surname or _letters(surname + given) in named.readings:
        return None  # spelled right, or someone else's name read from the passages (王鹏)
    return person


def respell_names(text: str, passages: Sequence[Passage]) -> str:
    """`text`, an English answer, with each name the model misspelled from the passages'
    characters written as pinyin and characters ("Easy Qun" -> "Yi Qun (易群)")."""
    if not passages or not any(_HAN.search(p.text) for p in passages):
        return text
    named = _named(tuple(t for p in passages for t in (p.title, p.text)))
    if not named.people:
        return text
    out, at = [], 0
    for match in _PAIR.finditer(text):
        start = match.start()
        if start < at:
            continue
        surname, given = match.group(1), match.group(2)
        person = _person(surname, given, named)
        if person is None:
            continue
        end = start + len(surname) + 1 + len(given)
        gloss = _GLOSSED.match(text, end)
        if gloss and to_simplified(gloss.group(1)) != to_simplified(person.written):
            continue  # "Chen Yongzhong (陈跃忠)": the characters say whom it means
        out.append(text[at:start])
        out.append(person.spelled if gloss else f"{person.spelled} ({person.written})")
        at = end
    out.append(text[at:])
    return "".join(out)


__all__ = ["respell_names"]
