"""A follow-up's "he" or "她", replaced by the one person the conversation's last turn named.

"Which society's nuclear medicine branch was he chairing?" after an answer about Li Sijin is
searched, answered and checked as "…was Li Sijin chairing?": the sentences that name him are
then the ones read first (service.named_subject), and a sentence about him must cite one
naming him. A small model given the pronoun and the history answered about the history's
person instead of the question. Only a turn naming exactly one person resolves a pronoun, and
only when the question does not name or ask for a person itself ("Which academician spoke,
and which institute is he from?"): anything else is left as asked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from index.names import romanise_name
from service.language import detect_language, match_script
from service.named_subject import names_in_question

_HAN = re.compile(r"[\u3400-\u9fff]+")
# Third-person singular pronouns; 他们/他人/其他 are not one person.
_ENGLISH = re.compile(r"\b(?:he|she|him|his|hers|her)\b", re.IGNORECASE)
_CHINESE = re.compile(r"(?<![其吉])[他她](?![们們人])")
# "her" before a word that is not a preposition or conjunction is possessive ("her hospital").
_NOT_NOUN = frozenset({
    "to", "in", "at", "for", "from", "with", "on", "about", "as", "and", "or", "by", "of",
    "than", "that", "who", "is", "was",
})  # fmt: skip
# The question asks for a person of its own: its pronoun may be that person.
_ASKS_PERSON_EN = re.compile(
    r"\b(?:who|whom|whose)\b|\b(?:which|what)\s+(?:\w+\s+){0,2}?(?:academician|professor"
    r"|expert|person|speaker|doctor|scholar|director|president|chair(?:man|woman|person)?"
    r"|leader|official|member|winner|researcher|scientist|guest|host)s?\b",
    re.IGNORECASE,
)
_ASKS_PERSON_ZH = re.compile(r"谁|誰|哪位|哪[一几幾]位|何人")


def _people(texts: Sequence[str]) -> list[str]:
    """The distinct people `texts` name: in characters where some text writes them so, else
    in pinyin as written."""
    found = dict.fromkeys(name for text in texts for name in names_in_question([text]))
    han = [n for n in found if _HAN.fullmatch(n)]
    latin = [n for n in found if not _HAN.fullmatch(n)]
    romanised = {romanise_name(n).lower() for n in han}
    return han + [n for n in latin if n.lower() not in romanised]


def _english(question: str, name: str) -> str:
    def replace(match: re.Match[str]) -> str:
        word = match.group(0).lower()
        if word in ("his", "hers"):
            return f"{name}'s"
        if word == "her":
            after = re.match(r"\s+([A-Za-z]+)", question[match.end() :])
            if after is not None and after.group(1).lower() not in _NOT_NOUN:
                return f"{name}'s"
        return name

    return _ENGLISH.sub(replace, question)


def resolve_person(question: str, history: Sequence[dict[str, str]] | None) -> str:
    """The question with its personal pronouns replaced by the one person the last exchange
    (the user's question and the answer) named, written for the question's language; the
    question unchanged when there is no such pronoun, no one or several people were named,
    or the question names or asks for someone itself."""
    turns = list(history or ())[-2:]
    if not turns:
        return question
    chinese = bool(_HAN.search(question))
    pronoun = _CHINESE if chinese else _ENGLISH
    first = pronoun.search(question)
    if first is None:
        return question
    asks = _ASKS_PERSON_ZH if chinese else _ASKS_PERSON_EN
    if asks.search(question[: first.start()]) or names_in_question([question]):
        return question
    people = _people([t.get("content", "") for t in turns])
    if len(people) != 1:
        return question
    (person,) = people
    if chinese:
        if not _HAN.fullmatch(person):
            return question  # only its pinyin was given: no characters to write
        return pronoun.sub(match_script(person, detect_language(question)), question)
    return _english(question, romanise_name(person) if _HAN.fullmatch(person) else person)
