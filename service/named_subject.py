"""The passages that name the person a question asks about.

A question that names someone ("Which hospital is Professor Wang Jing from?") is about that
person, and a sentence that matches the question's other words best but comes from a passage
never naming them is about someone else: the leading sentence is chosen among the passages
that name the person, when some do. Names are found by the name tagger (index.names) and
matched as written (in either Chinese script) or in pinyin, surname first or last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from pypinyin import lazy_pinyin

from index.names import person_names
from service.language import to_simplified

if TYPE_CHECKING:
    from service.passages import SearchHit


@lru_cache(maxsize=1024)
def _pinyin_pattern(written: str, romanised: str) -> re.Pattern[str]:
    """The name in English text: its pinyin (`romanised`, as index.names gives it), surname
    first or last, any case, the given name's syllables written together, hyphenated or apart."""
    surname = re.escape(romanised.split(" ", 1)[0].lower())
    given = r"[\s-]?".join(re.escape(s) for s in lazy_pinyin(to_simplified(written)[1:]))
    name = rf"(?:{surname}\s+{given}|{given}\s+{surname})"
    return re.compile(rf"(?<![a-z]){name}(?![a-z])", re.IGNORECASE)


def names_asked_about(queries: Sequence[str], texts: Sequence[str]) -> set[str]:
    """The names (simplified) of the people in `texts` whom some of `queries` names."""
    asked = [to_simplified(q) for q in queries]
    found: set[str] = set()
    for text in texts:
        for written, romanised in person_names(text):
            name = to_simplified(written)
            if name in found:
                continue
            pattern = _pinyin_pattern(written, romanised)
            if any(name in q or pattern.search(q) for q in asked):
                found.add(name)
    return found


def hits_naming(queries: Sequence[str], hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The hits whose passage names a person the question (or its translations) names; empty
    when the question names nobody the passages name."""
    texts = [h.chunk.text for h in hits]
    names = names_asked_about(queries, texts)
    if not names:
        return []
    simplified = [to_simplified(t) for t in texts]
    return [h for h, t in zip(hits, simplified, strict=True) if any(n in t for n in names)]
