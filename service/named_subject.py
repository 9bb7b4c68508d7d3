"""The passages that name the person a question asks about.

A question that names someone ("Which hospital is Professor Wang Jing from?") is about that
person, and a sentence that matches the question's other words best but comes from a passage
never naming them is about someone else: the leading sentence is chosen among the passages
that name the person, when some do, and the passages read come from the reports that name
them. Names are found by the name tagger (index.names) and
matched as written (in either Chinese script) or in pinyin, surname first or last.

A question naming someone whom none of the passages found names at all rests on a premise the
documents do not share ("Which hospital does Professor Chen Yue work at?" when no Chen Yue is
in them): such a question is refused rather than answered about someone else. And a sentence of the
answer about the person asked about must cite a passage that names them (`people_uncited`,
applied by service.claims), and tell them no proper name a passage naming them does not state
(`names_unsupported`): else it tells them a fact of a passage about others.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from pypinyin import lazy_pinyin

from index.names import person_names, pinyin_names, titled_names
from index.textnorm import pinyin_ngrams, syllable_ngrams
from ragqa.types import CITATION_MARKER, marker_numbers
from service.language import to_simplified
from service.term_spelling import names_a_term

if TYPE_CHECKING:
    from service.passages import Passage, SearchHit


@lru_cache(maxsize=1024)
def _pinyin_pattern(surname: str, given: tuple[str, ...]) -> re.Pattern[str]:
    """A name in English text from its pinyin syllables: surname first or last, any case, the
    given name's syllables written together, hyphenated or apart."""
    joined = r"[\s-]?".join(re.escape(s) for s in given)
    name = rf"(?:{re.escape(surname)}\s+{joined}|{joined}\s+{re.escape(surname)})"
    return re.compile(rf"(?<![a-z]){name}(?![a-z])", re.IGNORECASE)


def _han_pattern(written: str, romanised: str) -> re.Pattern[str]:
    """The pattern of a name written in characters (`romanised` as index.names gives it)."""
    given = tuple(lazy_pinyin(to_simplified(written)[1:]))
    return _pinyin_pattern(romanised.split(" ", 1)[0].lower(), given)


@dataclass(frozen=True)
class AskedName:
    """A person a question names: how English text writes them, and the pinyin n-grams
    (`index.textnorm.pinyin_ngrams`) of each way their name may sound."""

    pattern: re.Pattern[str]
    sounds: tuple[frozenset[str], ...]


def names_asked_about(queries: Sequence[str], texts: Sequence[str]) -> set[str]:
    """The names (simplified) of the people in `texts` whom some of `queries` names."""
    asked = [to_simplified(q) for q in queries]
    found: set[str] = set()
    for text in texts:
        for written, romanised in person_names(text):
            name = to_simplified(written)
            if name in found:
                continue
            pattern = _han_pattern(written, romanised)
            if any(name in q or pattern.search(q) for q in asked):
                found.add(name)
    return found


@lru_cache(maxsize=1024)
def _sounds(text: str) -> frozenset[str]:
    """The pinyin n-grams of `text`, as the lexical index stores them; cached, since the same
    passages come back for many questions."""
    return frozenset(pinyin_ngrams(text))


def names_in_question(queries: Sequence[str]) -> dict[str, AskedName]:
    """The people the question (`queries[0]`) names, found in it or in its translations
    (`queries[1:]`): in characters by the name tagger, in English text as pinyin; each kept
    only when the question itself has it, as written or in pinyin. Keys: names as written
    in pinyin, or in simplified characters. Cached (not to be changed by the caller): one
    answer asks it for its question's premise, its passages and each sentence's claims."""
    return _names_in_queries(tuple(queries))


@lru_cache(maxsize=64)
def _names_in_queries(queries: tuple[str, ...]) -> dict[str, AskedName]:
    question = to_simplified(queries[0])
    found: dict[str, AskedName] = {}
    for query in queries:
        for written, romanised in (*person_names(query), *titled_names(query)):
            name = to_simplified(written)
            pattern = _han_pattern(written, romanised)
            if name not in found and (name in question or pattern.search(question)):
                found[name] = AskedName(pattern, (_sounds(name),))
    for query in queries:  # a name in pinyin, unless it is one of those in characters
        for written, readings in pinyin_names(query):
            patterns = [_pinyin_pattern(r[0], r[1:]) for r in readings]
            if (
                written not in found
                and any(p.search(question) for p in patterns)
                and not any(asked.pattern.search(written) for asked in found.values())
            ):
                found[written] = AskedName(
                    patterns[0], tuple(frozenset(syllable_ngrams(r)) for r in readings)
                )
    return found


def _names_anyone(names: dict[str, AskedName], text: str) -> bool:
    """Whether `text` names any of the people `names` holds."""
    simplified = to_simplified(text)
    return any(_names(n, person, simplified) for n, person in names.items())


def _names(name: str, person: AskedName, simplified: str) -> bool:
    """Whether a (simplified) text names the person: as written, in pinyin, or by sound."""
    return bool(
        name in simplified
        or person.pattern.search(simplified)
        or any(sound and sound <= _sounds(simplified) for sound in person.sounds)
    )


def names_unknown(queries: Sequence[str], texts: Sequence[str]) -> list[str]:
    """The people the question names whom none of `texts` names: not as written, nor by the
    same pinyin (in Chinese text another character of the same sound, in English text the
    romanised name), so a translation's choice of characters cannot make a name unknown."""
    names = names_in_question(queries)
    if not names:
        return []
    simplified = [to_simplified(t) for t in texts]
    return [n for n, asked in names.items() if not any(_names(n, asked, t) for t in simplified)]


def hits_naming(queries: Sequence[str], hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The hits whose passage names a person the question (or its translations) names; empty
    when the question names nobody the passages name."""
    texts = [h.chunk.text for h in hits]
    names = names_asked_about(queries, texts)
    if not names:
        return []
    simplified = [to_simplified(t) for t in texts]
    return [h for h, t in zip(hits, simplified, strict=True) if any(n in t for n in names)]


def hits_of_documents_naming(queries: Sequence[str], hits: Sequence[SearchHit]) -> list[SearchHit]:
    """The hits from the reports of which some hit names a person the question names (as
    written, in pinyin or by sound): a passage of a report never naming them there tells a
    small model someone else's facts ("University of Auckland" for a Tsinghua professor). All
    of `hits` when the question names no one, or no hit names them. Decided on the passages
    found, not on whole documents, so its cost does not grow with a document's length."""
    names = names_in_question(queries)
    if not names:
        return list(hits)
    naming = {h.doc_id for h in hits if _names_anyone(names, h.chunk.text)}
    return [h for h in hits if h.doc_id in naming] if naming else list(hits)


def people_uncited(claim: str, passages: Sequence[Passage], question: str) -> list[str]:
    """The people the question names whom `claim` names too (as written or in pinyin) and none
    of the passages its markers cite names, a cut sentence counting with its whole passage:
    a fact of a passage about others told of them ("Wang Jing is from Chinese PLA General
    Hospital [2]", [2] listing other speakers' hospitals). Empty for a claim citing nothing."""
    numbers = {n for m in CITATION_MARKER.finditer(claim) for n in marker_numbers(m.group(1))}
    cited = [p for p in passages if p.n in numbers]
    if not cited:
        return []
    said = to_simplified(CITATION_MARKER.sub("", claim))
    asked = names_in_question([question])
    named = [n for n, person in asked.items() if n in said or person.pattern.search(said)]
    if not named:
        return []
    wholes = [
        w
        for c in cited
        for w in passages
        if w.doc_id == c.doc_id and w.start <= c.start and c.end <= w.end
    ]
    texts = [to_simplified(p.text) for p in (*cited, *wholes)]
    return [n for n in named if not any(_names(n, asked[n], t) for t in texts)]


# A proper name in Latin letters: capitalised words, joined by "of", "the", "and" or "for"
# ("Chinese PLA General Hospital", "University of Auckland"), not opening on an article.
_LATIN_NAME = re.compile(
    r"\b(?!(?:The|A|An)\s)[A-Z][A-Za-z]+(?:\s+(?:of|the|and|for|[A-Z][A-Za-z]+))*\s+[A-Z][A-Za-z]+\b"
)


def names_unsupported(claim: str, passages: Sequence[Passage], question: str) -> list[str]:
    """The proper names in Latin letters that `claim`, a sentence naming someone the question
    asks about, tells of them and no passage naming them states, in those letters or as a
    term the words translate (`service.term_spelling.names_a_term`): copied from a passage
    about others ("Wang Jing is from Chinese PLA General Hospital", from the English list of
    other speakers), or made up ("Chen Yue works at the University of Western Sydney").
    Names the question writes, and the person's own, do not count."""
    said = CITATION_MARKER.sub("", claim)
    simplified = to_simplified(said)
    asked = names_in_question([question])
    named = {n: a for n, a in asked.items() if n in simplified or a.pattern.search(simplified)}
    if not named:
        return []
    lowered = question.lower()
    told = [
        m.group(0)
        for m in _LATIN_NAME.finditer(said)
        if m.group(0).lower() not in lowered
        and not any(a.pattern.search(m.group(0)) for a in named.values())
        and not pinyin_names(m.group(0))  # a person: people_invented's and people_uncited's
    ]
    if not told:
        return []
    naming = [f"{p.title}\n{p.text}" for p in passages if _names_anyone(named, p.text)]
    return [
        name
        for name in told
        if not any(name in text for text in naming) and not names_a_term(name.split(), naming)
    ]


_GLOSS = re.compile(r"\s*[(（]([\u3400-\u9fff]{2,6})[)）]")  # "Yi Qun (易群)"
_HAN_NAME = re.compile(r"[\u3400-\u9fff]+")


def people_invented(claim: str, passages: Sequence[Passage], question: str) -> list[str]:
    """The people `claim` names whom neither the question nor any passage read names, as
    written or by sound: a name the model made up or misremembered ("Deng Jinfeng" for
    邓建军, "Dr. Zhang Qiang" where no Zhang Qiang is read), told as the documents' fact. A
    name glossed with characters the passages hold ("Xiang Longyu (赵长久)") or holding a
    passage's name (陈跃忠 for 陈跃) is the passages' person, misspelled: not counted."""
    said = CITATION_MARKER.sub("", claim)
    texts = [question, *(t for p in passages for t in (p.title, p.text))]
    unknown = names_unknown([said], texts)
    if not unknown:
        return []
    simplified = [to_simplified(t) for t in texts]
    people = {to_simplified(w) for t in texts for w, _ in person_names(t)}

    def known(chars: str) -> bool:
        chars = to_simplified(chars)
        return any(chars in t for t in simplified) or any(p in chars for p in people)

    def glossed(name: str) -> bool:
        return any(known(m.group(1)) for m in re.finditer(re.escape(name) + _GLOSS.pattern, said))

    return [n for n in unknown if not (known(n) if _HAN_NAME.fullmatch(n) else glossed(n))]
