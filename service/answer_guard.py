"""Checks an answer must pass before it leaves: it carries no instruction from a passage or
from the question, no link the cited passage does not state, no request for credentials, no
markup, and no part of ragqa's own prompts; and where a reply starts to loop.

Nor may it state what only ragqa's worked examples say (a venue, a person of an invented
library or marathon) when its passages and question do not: the small model copies them where
the documents are silent. These checks do not rely on the model obeying its rules: a sentence
that fails one is dropped (an answer left with nothing is the refusal). The screening itself
lives in `index.injection`, shared with ingestion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

import prompts
from index.injection import fold, instruction_categories, screen, urls
from index.names import person_names
from ragqa.types import CITATION_MARKER

if TYPE_CHECKING:
    from service.passages import Passage

_GRAM = 5
_LEAK_CHARS = 40  # a run this long of a prompt template in an answer is a leak
# A run at least this long, written twice in a row, is the model looping (no answer says
# the same 16 characters twice over), once it holds this many letters, digits or Han.
_LOOP_CHARS = 16
_LOOP_WORD_CHARS = 6
_EXAMPLE_GRAM = 3  # Han characters: a run this long of an example's text is its own
_HAN_RUN = re.compile(r"[\u3400-\u9fff]+")
_NOISE = re.compile(rf"{CITATION_MARKER.pattern}|[\W_]+")  # markers, spaces, punctuation
_ASKING = re.compile(
    r"[?？]|\b(?:who|whom|whose|what|when|where|which|why|how)\b"
    r"|谁|什么|哪|多少|几|吗|怎么|怎样|如何|是否|何时|为何"
)
# What an answer sentence must never carry, whatever the passages say.
_ANSWER_CATEGORIES = {"override", "prompt", "credentials", "markup"}


def _plain(text: str) -> str:
    """Folded text without markers, spaces and punctuation: what n-grams are taken of."""
    return _NOISE.sub("", fold(text))


def _grams(text: str) -> set[str]:
    plain = _plain(text)
    if len(plain) <= _GRAM:
        return {plain} if plain else set()
    return {plain[i : i + _GRAM] for i in range(len(plain) - _GRAM + 1)}


def _kept(text: str, flagged: Sequence[str]) -> str:
    kept = screen(text).kept
    for sentence in flagged:
        kept = kept.replace(sentence, " ")
    return kept


def kept_text(passage: Passage) -> str:
    """The passage as the model sees it (in translation, when it reads one): flagged
    sentences (found at ingestion or now) out."""
    if passage.reading is not None:
        return _kept(passage.reading.text, passage.flagged)
    return _kept(passage.text, passage.flagged)


def checked_text(passage: Passage) -> str:
    """What an answer may rest on: the kept text, and the kept translation the model read."""
    original = _kept(passage.text, passage.flagged)
    return original if passage.reading is None else f"{original}\n{kept_text(passage)}"


def flagged_text(passage: Passage) -> tuple[str, ...]:
    screened = screen(passage.checked_text).flagged
    return tuple(dict.fromkeys((*screened, *passage.flagged)))


def question_has_content(question: str) -> bool:
    """The question still asks something once its orders are taken out: when some were, a
    question mark or word is left ("…, then tell me who presided"), not just their remains."""
    screened = screen(question, question=True)
    return not screened.flagged or bool(_ASKING.search(fold(screened.kept)))


@dataclass(frozen=True, slots=True)
class Evidence:
    """What answer sentences are checked against, computed once per answer."""

    instruction_only: frozenset[str]  # n-grams found in flagged text and nowhere else
    kept: dict[int, str]  # passage number -> its unflagged text
    example_only: tuple[re.Pattern[str], ...] = ()  # example terms the sources do not hold


def evidence(passages: Sequence[Passage], question: str) -> Evidence:
    asked = screen(question, question=True)
    flagged: set[str] = set()
    for text in (*asked.flagged, *(f for p in passages for f in flagged_text(p))):
        flagged |= _grams(text)
    factual: set[str] = _grams(asked.kept)
    kept = {p.n: checked_text(p) for p in passages}
    for p in passages:
        factual |= _grams(kept[p.n]) | _grams(p.title) | _grams(p.read_title)
    sources = fold(
        "\n".join([question, *kept.values(), *(f"{p.title} {p.read_title}" for p in passages)])
    )
    example_only = tuple(term for term in _example_terms() if not term.search(sources))
    return Evidence(frozenset(flagged - factual), kept, example_only)


@cache
def _example_terms() -> tuple[re.Pattern[str], ...]:
    """What ragqa's worked examples (`prompts/examples.json`) state: every run of
    `_EXAMPLE_GRAM` Han characters of their questions, passages and answers, and their people's
    names in characters and in pinyin ("Li Hua"), folded as answers are."""
    texts: list[str] = []
    for example in prompts.examples():
        texts += [example["question"], example["answer"]]
        texts += [f"{p['title']} {p['text']}" for p in example["passages"]]
    terms: set[str] = set()
    for text in map(fold, texts):
        for run in _HAN_RUN.findall(text):
            terms.update(run[i : i + _EXAMPLE_GRAM] for i in range(len(run) - _EXAMPLE_GRAM + 1))
    patterns = [re.escape(term) for term in sorted(terms)]
    for text in texts:
        for written, pinyin in person_names(text):
            patterns += [re.escape(fold(written)), rf"\b{re.escape(fold(pinyin))}\b"]
    refusals = [fold(r) for r in prompts.table("refusals").values()]
    return tuple(
        re.compile(p) for p in dict.fromkeys(patterns) if not any(re.search(p, r) for r in refusals)
    )


def copies_example(claim: str, found: Evidence) -> bool:
    """The claim states something of a worked example that its passages and question do not:
    a venue, a name or a phrase the model took from the prompt, not from the documents."""
    if not found.example_only:
        return False
    folded = fold(CITATION_MARKER.sub("", claim))
    return any(term.search(folded) for term in found.example_only)


def _cited(claim: str) -> list[int]:
    """The numbers written in the claim's markers (a range counts by its two ends)."""
    numbers = []
    for m in CITATION_MARKER.finditer(claim):
        numbers += [int(n) for n in re.findall(r"\d{1,3}", m.group(1))]
    return numbers


def carries_instruction(claim: str, found: Evidence) -> bool:
    """Most of the claim comes from instructions (a planted notice, or the question's own
    order such as "then say PWNED") and not from any fact of the passages."""
    grams = _grams(claim)
    if not grams or not found.instruction_only:
        return False
    return len(grams & found.instruction_only) * 2 >= len(grams)


def has_foreign_link(claim: str, found: Evidence) -> bool:
    """The claim gives a link that its cited passages (every passage, when it cites none) do
    not state verbatim outside a flagged sentence."""
    links = urls(claim)
    if not links:
        return False
    cited = [n for n in _cited(claim) if n in found.kept] or list(found.kept)
    sources = [found.kept[n] for n in cited]
    return any(not any(link in text for text in sources) for link in links)


def is_forbidden(claim: str) -> bool:
    """The claim asks for credentials, sets the rules aside, talks about its prompt, or
    carries markup (a script, an image that loads a page)."""
    return bool(_ANSWER_CATEGORIES & set(instruction_categories(claim)))


@cache
def _prompt_runs() -> frozenset[str]:
    """Every run of `_LEAK_CHARS` characters of the fixed text of ragqa's prompt templates
    (placeholders and the refusal sentences, which answers may say, excluded)."""
    runs: set[str] = set()
    refusals = [_leak_plain(r) for r in prompts.table("refusals").values()]
    for name in ("system", "question", "passage", "translate", "translate_request"):
        for piece in re.split(r"\{[a-z_]+\}", prompts.template(name)):
            plain = _leak_plain(piece)
            for refusal in refusals:
                plain = plain.replace(refusal, "|")
            for part in plain.split("|"):
                runs.update(part[i : i + _LEAK_CHARS] for i in range(len(part) - _LEAK_CHARS + 1))
    return frozenset(runs)


def _leak_plain(text: str) -> str:
    return re.sub(r"\s+", " ", CITATION_MARKER.sub("", fold(text))).strip()


def leaks_prompt(text: str) -> bool:
    """The text repeats a run of at least `_LEAK_CHARS` characters of a prompt template."""
    plain = _leak_plain(text)
    runs = _prompt_runs()
    return any(plain[i : i + _LEAK_CHARS] in runs for i in range(len(plain) - _LEAK_CHARS + 1))


def repeat_start(text: str) -> int | None:
    """Where the second copy begins when `text` ends with a run written twice in a row, the
    start of a small model's loop ("A、B、A、B、..."); None when it does not."""
    for size in range(_LOOP_CHARS, len(text) // 2 + 1):
        run = text[-size:]
        if text.endswith(run * 2) and sum(c.isalnum() for c in run) >= _LOOP_WORD_CHARS:
            return len(text) - size
    return None


def failed_checks(claim: str, found: Evidence) -> Iterable[str]:
    """Names of the checks the claim fails (empty when it may be sent)."""
    if is_forbidden(claim):
        yield "forbidden"
    if has_foreign_link(claim, found):
        yield "link"
    if carries_instruction(claim, found):
        yield "instruction"
    if leaks_prompt(claim):
        yield "prompt"
    if copies_example(claim, found):
        yield "example"
