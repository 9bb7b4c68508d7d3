"""What the leading sentence must state besides matching the question best: the term the
question quotes, and an edition when it asks which one.

A question quoting a term ("拿到“创新应用奖”的是哪几家单位？") asks about the sentence that holds
it, and a question asking which edition ("是第几届？") is answered by a sentence numbering one
the question does not; the sentence scoring best may instead share the question's other, topic
words (the competition's name, the conference's) and hold neither. Tested on the question and
its translations, after folding to simplified script and lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.editions import asks_edition, edition_numbers
from service.language import to_simplified

# A quoted term of 2-40 characters: in Chinese quotes or corner brackets, or in straight or
# curly quotes not opening or closing inside a Latin word (the apostrophes of Xi'an, Wang's).
_QUOTED = re.compile(
    r"[“「『]([^”」』\n]{2,40})[”」』]"
    r"|(?<![A-Za-z0-9])[‘'\"]([^’'\"\n]{2,40}?)[’'\"](?![A-Za-z0-9])"
)

SentenceTest = Callable[[str], bool]


def quoted_terms(queries: Sequence[str]) -> tuple[str, ...]:
    """The terms the question or its translations quote, folded, in order, each once."""
    found = (
        _fold(match[1] or match[2]).strip()
        for query in queries
        for match in _QUOTED.finditer(query)
    )
    return tuple(dict.fromkeys(term for term in found if len(term) >= 2))


def lead_focus(queries: Sequence[str]) -> SentenceTest | None:
    """The test a leading sentence must pass for the question (the original first, then its
    translations): it holds one of the quoted terms, and, for a question asking which edition,
    numbers an edition the question does not; None when the question asks neither."""
    terms = quoted_terms(queries)
    edition = bool(queries) and asks_edition(queries[0])
    if not terms and not edition:
        return None
    given = edition_numbers(queries[0]) if edition else set()

    def passes(text: str) -> bool:
        if terms and not any(term in _fold(text) for term in terms):
            return False
        return not edition or bool(edition_numbers(text) - given)

    return passes


def _fold(text: str) -> str:
    return to_simplified(text).lower()


def lead_tests(focus: SentenceTest | None, kind: SentenceTest | None) -> list[SentenceTest]:
    """The tests to choose a leading sentence by, in turn until one passes some sentence:
    the focus and the asked kind together, then the focus alone, then the kind alone."""
    if focus is None:
        return [kind] if kind else []
    if kind is None:
        return [focus]
    return [lambda text: focus(text) and kind(text), focus, kind]
