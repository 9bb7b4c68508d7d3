"""What the leading sentence must state besides matching the question best: the term the
question quotes, an edition when it asks which one, and the post when it asks who held it.

A question quoting a term ("拿到“创新应用奖”的是哪几家单位？") asks about the sentence that holds
it; a question asking which edition ("是第几届？") is answered by a sentence numbering one the
question does not; one asking who held a post or chaired ("主持人是谁？", "Who was
president-elect…?") by a sentence giving that post at that rank, in either language. The
sentence scoring best may instead share the question's other, topic words (the competition's
name, the conference's) and hold none of these. Tested on the question and its translations,
folded to simplified script and lower case.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from index.editions import asks_edition, edition_numbers
from service.language import to_simplified
from service.stated_roles import posts_named

SentenceTest = Callable[[str], bool]

# A quoted term of 2-40 characters: in Chinese quotes or corner brackets, or in straight or
# curly quotes not opening or closing inside a Latin word (the apostrophes of Xi'an, Wang's).
_QUOTED = re.compile(
    r"[“「『]([^”」』\n]{2,40})[”」』]"
    r"|(?<![A-Za-z0-9])[‘'\"]([^’'\"\n]{2,40}?)[’'\"](?![A-Za-z0-9])"
)
_WHO = re.compile(r"谁|哪一?位|\bwho(?:m|se)?\b", re.IGNORECASE)


def quoted_terms(queries: Sequence[str]) -> tuple[str, ...]:
    """The terms the question or its translations quote, folded, in order, each once."""
    found = (
        _fold(match[1] or match[2]).strip()
        for query in queries
        for match in _QUOTED.finditer(query)
    )
    return tuple(dict.fromkeys(term for term in found if len(term) >= 2))


def asked_posts(queries: Sequence[str]) -> set[tuple[str, str]]:
    """For a question asking who, the posts (with their ranks) it or its translations name,
    chairing a session among them (service.stated_roles.posts_named); none for any other."""
    if not queries or not _WHO.search(to_simplified(queries[0])):
        return set()
    return set().union(*(posts_named(query) for query in queries))


def lead_focus(queries: Sequence[str]) -> list[SentenceTest]:
    """The tests a leading sentence for the question (the original first, then its
    translations) should pass: it holds a quoted term; asked which edition, it numbers one
    the question does not; asked who held a post, it gives that post at that rank. Empty when
    none apply."""
    tests: list[SentenceTest] = []
    if terms := quoted_terms(queries):
        tests.append(lambda text: _holds_any(terms, _fold(text)))
    if queries and asks_edition(queries[0]):
        given = edition_numbers(queries[0])
        tests.append(lambda text: bool(edition_numbers(text) - given))
    if posts := asked_posts(queries):
        tests.append(lambda text: bool(posts_named(text) & posts))
    return tests


def lead_tests(focus: Sequence[SentenceTest], kind: SentenceTest | None) -> list[SentenceTest]:
    """The tests to choose a leading sentence by, in turn until one passes some sentence:
    all of them together (the focus and the asked kind), then each alone, in order."""
    tests = [*focus, *([kind] if kind else [])]
    if len(tests) < 2:
        return tests
    return [lambda text: all(test(text) for test in tests), *tests]


def _holds_any(terms: Sequence[str], folded: str) -> bool:
    return any(term in folded for term in terms)


def _fold(text: str) -> str:
    return to_simplified(text).lower()
