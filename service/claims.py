"""The checks a model's answer passes sentence by sentence before it is shown.

Each claim (a sentence with its markers) has its markers pointed at the passages that support
it, and is dropped when it invents a number, cites a passage that lacks its number, uses a
marker as its answer, echoes an instruction, fails an answer-guard check, or tells of someone
a fact of a passage that does not name them. Pure functions:
`service/answer.py` and the streaming gate call them with plain data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING

import prompts
from index.chunking import split_sentences
from index.editions import other_edition
from index.injection import is_instruction, screen
from ragqa.types import CITATION_MARKER, Language, marker_numbers
from service import answer_guard
from service.language import match_script, to_simplified
from service.name_spelling import respell_names
from service.named_subject import names_unsupported, people_invented, people_uncited
from service.stated_roles import roles_unsupported
from service.term_spelling import respell_terms
from service.title_spelling import respell_titles

if TYPE_CHECKING:
    from service.passages import Passage

# A sentence of a passage, as quotes and the instruction screen cut passages.
SENTENCE = re.compile(r"[^。！？；.!?;\n]+[。！？；.!?;]?")
_MARKER_AFTER_STOP = re.compile(r"([。！？.!?])\s*((?:\[\d{1,3}\])+)")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")
_CJK_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([万亿萬億])")
_EN_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(thousand|million|billion)\b", re.IGNORECASE)
_SCALE = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_SCALE.update(thousand=10**3, million=10**6, billion=10**9)
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")
# A sentence that stops on one of these once its markers are removed used a marker as its
# answer ("the agreement is worth [2].", "it appears at: [1] and [3]."): it states nothing.
_HOLLOW_END = re.compile(
    r"(?:\b(?:is|are|was|were|worth|of|in|at|by|and|or|the|to|from|on|as|with)|[:：,，、]"
    r"|[是和及与與])$",  # not 的 (是…的) nor 在 (存在): Chinese sentences end on those
    re.IGNORECASE,
)
# A marker standing where a quantity belongs: "worth [1] million yuan", "共有[2]人参加".
_MARKER_AS_QUANTITY = re.compile(
    r"[\[【]\s*\d{1,3}\s*[\]】]\s*(?:(?:hundred|thousand|million|billion|percent|yuan|dollars?"
    r"|people|participants|experts|attendees|times|years?)\b|%|[百千万萬亿億元人名位个個项項届屆年])",
    re.IGNORECASE,
)
# A model that will not answer often says so in its own words instead of the fixed sentence.
_NOT_FOUND = re.compile(
    r"\b(?:is|are|was|were|does|do|did)\s+not\s+(?:mentioned|stated|given|specified|provided"
    r"|included|contain|mention|say|state|specify|provide|include)\b"
    r"|\bno\s+(?:information|mention|details?)\b|\bnot\s+(?:available|found)\b"
    r"|没有(?:提到|提及|提供|说明|给出|相关信息|找到)|未(?:提到|提及|提供|说明|给出|找到)|无法回答",
    re.IGNORECASE,
)


def is_refusal(answer: str) -> bool:
    """The model answered with (a version of) the fixed refusal sentence, or said in its own
    words, in every sentence, that the passages do not give the answer."""
    bare = CITATION_MARKER.sub("", answer)
    plain = _normalise(bare)
    if any(_normalise(sentence) in plain for sentence in prompts.table("refusals").values()):
        return True
    claims = [c for c in split_claims(bare) if c.strip(" \n。.")]
    return bool(claims) and all(_NOT_FOUND.search(to_simplified(c)) for c in claims)


def _normalise(text: str) -> str:
    return re.sub(r"[\s。.，,！!]", "", to_simplified(text).lower())


def words(text: str) -> set[str]:
    """Latin words and Han characters, markers removed and script folded: what claims and
    passages are compared by."""
    return set(_WORD.findall(to_simplified(CITATION_MARKER.sub(" ", text)).lower()))


def split_claims(text: str) -> list[str]:
    """The answer cut into sentences (abbreviations and decimals respected), each keeping the
    markers written after it; joined back they give the text unchanged."""
    spans = split_sentences(text)
    if not spans:
        return [text] if text else []
    pieces = [text[: spans[0][1]]]
    pieces += [text[prev_end:end] for (_, prev_end), (_, end) in pairwise(spans)]
    pieces[-1] += text[spans[-1][1] :]
    return pieces


def _support(claim_tokens: set[str], passage: Passage) -> float:
    """Share of the claim's words that occur in the passage."""
    shared = claim_tokens & words(passage.checked_text)
    return len(shared) / len(claim_tokens) if claim_tokens else 0.0


def _numbers(text: str) -> set[str]:
    """The numbers written in `text`, thousands separators removed, and amounts with a scale
    word (万/亿, million) also as plain integers: an English answer turns 120万 into 1.2
    million, and both stand for 1200000."""
    found = {m.replace(",", "") for m in _NUMBER.findall(text)}
    for value, unit in [*_CJK_AMOUNT.findall(text), *_EN_AMOUNT.findall(text)]:
        found.add(f"{float(value) * _SCALE[unit.lower()]:.0f}")
    return found


def _claim_numbers(claim: str) -> set[str]:
    bare = CITATION_MARKER.sub("", claim)
    mantissas = {value for value, _ in _EN_AMOUNT.findall(bare)}  # "1.2" of "1.2 million"
    return _numbers(bare) - mantissas


def _is_grounded(claim: str, source_numbers: set[str]) -> bool:
    """Every number in the claim occurs in the passages or the question.

    A small model asked for a figure the passages lack tends to invent one; a number found
    nowhere in the sources is the clearest sign of it.
    """
    return _claim_numbers(claim) <= source_numbers


def _markers(claim: str) -> list[int]:
    """The passage numbers the claim's markers cite, in order, repeats kept."""
    return [n for m in CITATION_MARKER.finditer(claim) for n in marker_numbers(m.group(1))]


def _with_markers(claim: str, numbers: Sequence[int]) -> str:
    """The claim with its markers replaced by `numbers`, placed before its closing stop."""
    bare = CITATION_MARKER.sub("", claim)
    end = len(bare.rstrip("。！？；.!?; \n"))
    tail = re.sub(r"^[ \t]+(?=[。！？；.!?;])", "", bare[end:])  # "Taiyuan [1]." -> "Taiyuan[1]."
    return bare[:end] + "".join(f"[{n}]" for n in numbers) + tail


def _needed(claim: str, asked_numbers: set[str]) -> set[str]:
    """The claim's figures that the question did not give: what its cited passage must state."""
    return _claim_numbers(claim) - asked_numbers


def _cite_its_numbers(
    claim: str,
    passages: Sequence[Passage],
    asked_numbers: set[str],
    passage_numbers: dict[int, set[str]],
) -> str | None:
    """The claim if every number in it is stated by a passage it cites (or by the question);
    pointed at another passage of the same document that states them all (the model cited
    the neighbouring chunk); else None, and the claim is dropped: a figure from another
    document is often about another event.
    """
    cited = [n for n in _markers(claim) if n in passage_numbers]
    needed = _needed(claim, asked_numbers)
    if not cited or needed <= set().union(*(passage_numbers[n] for n in cited)):
        return claim
    documents = {p.doc_id for p in passages if p.n in cited}
    for p in passages:
        if p.doc_id in documents and needed <= passage_numbers[p.n]:
            return _with_markers(claim, [p.n])
    return None


def _is_hollow(claim: str) -> bool:
    """The model wrote a marker where the answer should be: the claim's words stop there, or
    a quantity's unit follows it ("worth [1] million")."""
    if _MARKER_AS_QUANTITY.search(claim):
        return True
    bare = re.sub(r"\s+", " ", CITATION_MARKER.sub("", claim)).strip(" \n。.!！?？;；")
    return bool(CITATION_MARKER.search(claim)) and bool(_HOLLOW_END.search(bare))


# A yes/no question: its answer may say back what it asked.
_YES_NO = re.compile(
    r"[吗嗎]\s*[？?]?\s*$|是否|有没有|有沒有|是不是"
    r"|^\s*(?:is|are|was|were|do|does|did|can|could|has|have|had|will|would|should)\b",
    re.IGNORECASE,
)
_FILLER = frozenset(
    _WORD.findall(
        "的 了 是 在 和 与 及 也 都 还 为 有 包括 具体 分别 主要 以下 如下 内容 "
        "the a an of in at on and to was were is are by for with as that this it its"
    )
)


def _restates_question(claim: str, asked: set[str], question: str) -> bool:
    """The claim says nothing the question did not ("the plan includes: the plan [1]"): each of
    its words is the question's. An answer to a yes/no question may say it back."""
    said = words(claim) - _FILLER
    return len(said) >= 2 and said <= asked and not _YES_NO.search(question)


def _documents_named(claim: str, passages: Sequence[Passage], language: Language) -> str:
    """A claim that lists passages of two or more documents where its answer belongs ("he
    appears at: [3] and [4].") names those documents: each marker follows its document's
    title, which is what a "which events / which articles" question asks for. Any other claim
    is returned as is (one standing for a quantity, a place or a name stays hollow)."""
    if _MARKER_AS_QUANTITY.search(claim) or not _is_hollow(claim):
        return claim
    by_number = {p.n: p for p in passages}
    cited = _markers(claim)
    if len({by_number[n].doc_id for n in cited if n in by_number}) < 2:
        return claim  # one place, organisation or figure ("held in [3]"): not a title
    english = language == "en"
    named: set[str] = set()

    def titled(marker: re.Match[str]) -> str:
        shown = []
        for n in marker_numbers(marker.group(1)):
            p = by_number.get(n)
            title = p.title.strip() if p is not None else ""
            if p is None or screen(title).flagged or "://" in title:  # a title is text too
                return marker.group(0)
            if title and p.doc_id not in named:
                named.add(p.doc_id)
                shown.append(
                    f"“{title}” [{n}]" if english else f"《{match_script(title, language)}》[{n}]"
                )
            else:
                shown.append(f"[{n}]")
        return (", " if english else "、").join(shown)

    return CITATION_MARKER.sub(titled, claim)


def _split_instructions(passages: Sequence[Passage]) -> tuple[set[str], set[str]]:
    """The words of the passages' factual sentences, and of their sentences that address the
    assistant (a planted "end every answer with X")."""
    factual: set[str] = set()
    instructions: set[str] = set()
    for p in passages:
        for sentence in SENTENCE.findall(to_simplified(p.checked_text)):
            (instructions if is_instruction(sentence) else factual).update(words(sentence))
        for sentence in answer_guard.flagged_text(p):
            instructions.update(words(sentence))
    return factual, instructions


def _echoes_instructions(
    claim: str, question_tokens: set[str], factual: set[str], instructions: set[str]
) -> bool:
    """The claim repeats instruction words and states nothing from the documents' facts: a
    phrase the question or a planted sentence told the model to say ("ACCESS GRANTED")."""
    tokens = words(claim)
    if not tokens or tokens & factual:
        return False
    if tokens <= instructions:
        return True
    return not CITATION_MARKER.search(claim) and tokens <= question_tokens | instructions


def _check_claim(
    claim: str, passages: Sequence[Passage], stating: Sequence[Passage], min_support: float = 0.6
) -> str:
    """Point the claim's markers at the passages that support it.

    Without a marker, a claim whose words mostly come from one passage is attributed to it
    (small models often forget markers). A marker whose passage shares less than half as many
    of the claim's words as the best-supporting passage is moved to that passage. Only a
    passage in `stating` (those that state the claim's figures) can be that best one: shared
    Han characters also join a Chinese claim to a Chinese passage of another event, while the
    English passage it cites states its year. Claims whose words match no such passage (a
    translation, a paraphrase) keep the model's own markers.
    """
    tokens = words(claim)
    best = max(stating, key=lambda p: _support(tokens, p), default=None)
    if best is None or _support(tokens, best) < min_support:
        return claim
    by_number = {p.n: p for p in passages}
    cited = _markers(claim)
    kept = [
        n
        for n in dict.fromkeys(cited)
        if n in by_number and _support(tokens, by_number[n]) >= _support(tokens, best) / 2
    ] or [best.n]
    return _with_markers(claim, kept)


def _cite_its_people(
    claim: str, passages: Sequence[Passage], question: str, min_support: float = 0.6
) -> str | None:
    """A claim naming someone the question asks about whom no passage it cites names, pointed
    at the passage naming them that shares most of its words (the marker check, or the model,
    picked another passage with the same other words) if it shares as many as the passages
    cited or most of them; else dropped: it told them a fact of a passage about others."""
    if not people_uncited(claim, passages, question):
        return claim
    tokens = words(claim)
    naming = [
        p for p in passages if not people_uncited(_with_markers(claim, [p.n]), passages, question)
    ]
    best = max(naming, key=lambda p: _support(tokens, p), default=None)
    numbers = set(_markers(claim))
    cited = max((_support(tokens, p) for p in passages if p.n in numbers), default=0.0)
    if best is None or _support(tokens, best) < min(min_support, cited):
        return None
    return _with_markers(claim, [best.n])


@dataclass(frozen=True)
class _Sources:
    """What claims are checked against."""

    numbers: set[str]  # of the question and all passages
    asked_numbers: set[str]
    passage_numbers: dict[int, set[str]]  # by passage number, its title included
    asked: set[str]  # the question's words
    factual: set[str]  # the passages' words outside sentences that address the assistant
    instructions: set[str]
    guard: answer_guard.Evidence


@lru_cache(maxsize=32)
def _sources(passages: tuple[Passage, ...], question: str) -> _Sources:
    """Cached: a streamed answer is checked sentence by sentence against the same passages."""
    asked_numbers = _numbers(to_simplified(question))
    passage_numbers = {
        p.n: _numbers(to_simplified(f"{p.title}\n{p.read_title}\n{p.checked_text}"))
        for p in passages
    }
    return _Sources(
        asked_numbers.union(*passage_numbers.values()),
        asked_numbers,
        passage_numbers,
        words(question),
        *_split_instructions(passages),
        answer_guard.evidence(passages, question),
    )


def _stating(claim: str, passages: Sequence[Passage], found: _Sources) -> list[Passage]:
    """The passages that state every figure of the claim the question did not give."""
    needed = _needed(claim, found.asked_numbers)
    return [p for p in passages if needed <= found.passage_numbers[p.n]]


def check_claims(
    raw: str, passages: Sequence[Passage], language: Language, question: str = ""
) -> str:
    """The answer text with its markers pointed at supporting passages (passage numbers kept),
    and without sentences that invent a number or cite a passage that lacks it, use a marker
    as their answer (one listing passages of several documents names the documents instead),
    echo an instruction, fail an answer-guard check (a link the cited passage does not
    state, a credential request, markup, a run of the prompt), or name someone the
    question asks about whom no passage it cites names, or tell them a proper name no
    passage naming them states (`service.named_subject`), or give someone a title no passage
    gives them (`service.stated_roles`); usable on
    whole sentences as they stream. In English, people's names the model misspelled from the
    passages' characters are written as their pinyin ("Easy Qun" -> "Yi Qun (易群)"), and
    terms it half translated are written whole ("the West 京医院" -> "the 西京医院"); in any
    language, a 《title》 miscopied by a character or two is written as the passage's."""
    text = _MARKER_AFTER_STOP.sub(r"\2\1", match_script(raw, language))
    if language == "en":
        text = respell_terms(respell_names(text, passages), passages)
    text = respell_titles(text, passages, language)
    found = _sources(tuple(passages), question)
    claims = (_documents_named(c, passages, language) for c in split_claims(text))
    kept = (
        _check_claim(c, passages, _stating(c, passages, found))
        for c in claims
        if _is_grounded(c, found.numbers)
        and not _is_hollow(c)
        and not _restates_question(c, found.asked, question)
        and not other_edition(c, question)
        and not people_invented(c, passages, question)
        and not names_unsupported(c, passages, question)
        and not roles_unsupported(c, passages)
        and not _echoes_instructions(c, found.asked, found.factual, found.instructions)
        and not any(answer_guard.failed_checks(c, found.guard))
    )
    cited = (
        _cite_its_numbers(c, passages, found.asked_numbers, found.passage_numbers) for c in kept
    )
    named = (_cite_its_people(c, passages, question) for c in cited if c is not None)
    return "".join(c for c in named if c is not None)
