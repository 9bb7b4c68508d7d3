"""Titles in 《》 written as the passage writes them.

Copying a talk's title, the small model lets the question's wording slip in: asked about the
"医工结合" session, it writes 邓建军's 《医工融合是核医疗创新的关键》 as 《医工结合是…》. A
title is a name, so one word changed makes it another title, and neither a reader nor a
search finds it. A title the passages do not hold, that differs from exactly one of their
titles by at most one character in five, becomes that title, in the answer's script.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from functools import lru_cache
from typing import TYPE_CHECKING

from ragqa.types import Language
from service.language import match_script, to_simplified

if TYPE_CHECKING:
    from service.passages import Passage

_TITLE = re.compile(r"《([^《》\n]{2,80})》")
_SPACE = re.compile(r"\s+")
# Likeness (difflib's ratio, 2 x matched / total characters) at which a title is taken for
# a miscopy of a passage's: one character in five differing at most.
SAME_TITLE = 0.8


def _folded(title: str) -> str:
    """A title compared across scripts and spacing."""
    return to_simplified(_SPACE.sub("", title))


@lru_cache(maxsize=32)
def _titles(passages: tuple[Passage, ...]) -> dict[str, str]:
    """The passages' titles by their folded form. Cached: a streamed answer is checked a
    sentence at a time against the same passages."""
    titles: dict[str, str] = {}
    for passage in passages:
        for match in _TITLE.finditer(passage.text):
            titles.setdefault(_folded(match.group(1)), match.group(1))
    return titles


def respell_titles(answer: str, passages: Sequence[Passage], language: Language) -> str:
    """The answer with each 《title》 that no passage holds, but one passage title nearly is,
    written as that passage's title (in the answer's script); a title as like two passage
    titles, or like none, is left."""
    titles = _titles(tuple(passages))
    if not titles:
        return answer

    def respelled(match: re.Match[str]) -> str:
        written = _folded(match.group(1))
        if written in titles:
            return match.group(0)
        likeness = sorted(
            ((SequenceMatcher(None, written, title).ratio(), title) for title in titles),
            reverse=True,
        )
        best, title = likeness[0]
        if best < SAME_TITLE or (len(likeness) > 1 and likeness[1][0] == best):
            return match.group(0)
        return f"《{match_script(titles[title], language)}》"

    return _TITLE.sub(respelled, answer)
