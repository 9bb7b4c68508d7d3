"""Turning passages into a prompt, and a raw model answer into a cited one.

Pure functions: the pipeline and the tests call them with plain data.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise

import prompts
from index.chunking import split_sentences
from index.injection import is_instruction, screen
from index.textnorm import pinyin_ngrams, romanised_name_tokens
from ragqa.types import CITATION_MARKER, Language, marker_numbers
from service import answer_guard
from service.document_view import view_url
from service.generation.base import ChatMessage
from service.language import match_script, to_simplified

# Chat-control tokens of the common templates (ChatML, Llama, Gemma), and ragqa's own passage
# frame: a document or question containing one must not be able to leave its place.
_CONTROL_TOKENS = re.compile(
    r"<\|[a-zA-Z_]+\|>|<\|?(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id)\|?>"
    r"|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>"
    r"|</?\s*passages\s*>",  # the frame passages are put in: a document cannot close it
    re.IGNORECASE,
)
_SENTENCE = re.compile(r"[^。！？；.!?;\n]+[。！？；.!?;]?")
_MARKER_AFTER_STOP = re.compile(r"([。！？.!?])\s*((?:\[\d{1,3}\])+)")
_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?")
_CJK_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*([万亿萬億])")
_EN_AMOUNT = re.compile(r"(\d+(?:\.\d+)?)\s*(thousand|million|billion)\b", re.IGNORECASE)
_SCALE = {"万": 10**4, "萬": 10**4, "亿": 10**8, "億": 10**8}
_SCALE.update(thousand=10**3, million=10**6, billion=10**9)
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]")
# A Latin letter or digit touching a Chinese character, either way round.
_LATIN_HAN = re.compile(
    r"(?<=[A-Za-z0-9,;:])(?=[\u3400-\u9fff])|(?<=[\u3400-\u9fff])(?=[A-Za-z0-9])"
)
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


@dataclass(frozen=True, slots=True)
class Passage:
    """A passage as numbered in the prompt."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    text: str
    start: int
    end: int
    score: float
    url: str | None = None
    flagged: tuple[str, ...] = ()  # sentences screened out as instructions at ingestion
    # Where the document states its title (the model reads the title with every passage, and
    # a headline often holds the fact): its text and offset there, or "" and -1.
    heading: str = ""
    heading_start: int = -1


@dataclass(frozen=True, slots=True)
class Citation:
    """A passage the answer cites, numbered in order of first use, with a supporting quote."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    quote: str
    start: int  # the quote's offsets in the document's cleaned text
    end: int
    score: float
    url: str | None = None


@dataclass(frozen=True, slots=True)
class CitedAnswer:
    answer: str
    refused: bool
    citations: list[Citation]


def neutralise(text: str) -> str:
    """Remove chat-control tokens so untrusted text stays inside its turn."""
    return _CONTROL_TOKENS.sub(" ", text)


def refusal(language: Language) -> str:
    return prompts.table("refusals")[language]


def _user_turn(question: str, rendered_passages: str, language: Language) -> str:
    return prompts.render(
        "question",
        passages=rendered_passages,
        question=question,
        language=prompts.table("languages")[language],
        refusal=refusal(language),
    )


def _render_passages(passages: Sequence[Passage]) -> str:
    return "\n".join(
        prompts.render(
            "passage", n=str(p.n), title=title, text=neutralise(answer_guard.kept_text(p))
        )
        for p, title in zip(passages, _titles(passages), strict=True)
    )


@cache
def _examples() -> tuple[ChatMessage, ...]:
    """Worked examples (citing, refusing) shown before the real question. They are the same
    for every request, so llama.cpp keeps them in its prompt cache with the system prompt."""
    turns: list[ChatMessage] = []
    for example in json.loads(prompts.resource("examples.json")):
        rendered = "\n".join(
            prompts.render("passage", n=str(n), title=p["title"], text=p["text"])
            for n, p in enumerate(example["passages"], start=1)
        )
        turns.append(
            {
                "role": "user",
                "content": _user_turn(example["question"], rendered, example["language"]),
            }
        )
        turns.append({"role": "assistant", "content": example["answer"]})
    return tuple(turns)


def preamble() -> list[ChatMessage]:
    """The system rules and worked examples that every prompt starts with."""
    names = prompts.table("languages")
    refusals = "\n".join(f"- {names[k]}: {v}" for k, v in prompts.table("refusals").items())
    system: ChatMessage = {"role": "system", "content": prompts.render("system", refusals=refusals)}
    return [system, *_examples()]


def build_messages(
    question: str,
    passages: Sequence[Passage],
    language: Language,
    history: Sequence[dict[str, str]] = (),
) -> list[ChatMessage]:
    """The preamble, earlier turns, then one user turn holding the passages and the question.

    Documents and user turns go in without their sentences screened as instructions (an
    order to the assistant, a role marker), and without chat-control tokens.
    """
    asked = screen(question, question=True).kept.strip()
    user = _user_turn(neutralise(asked), _render_passages(passages), language)
    messages = preamble()
    for turn in history:
        if turn["role"] == "assistant":
            messages.append({"role": "assistant", "content": neutralise(turn["content"])})
        else:
            said = screen(turn["content"], question=True).kept.strip()
            messages.append({"role": "user", "content": neutralise(said)})
    messages.append({"role": "user", "content": user})
    return messages


def _titles(passages: Sequence[Passage], max_chars: int = 60) -> list[str]:
    """Each document's title once, at its first passage: prefill time is the scarce resource."""
    seen: dict[str, int] = {}
    titles = []
    for p in passages:
        if p.doc_id in seen:
            titles.append(f"same document as [{seen[p.doc_id]}]")
        else:
            seen[p.doc_id] = p.n
            title = neutralise(p.title).strip()
            titles.append(title if len(title) <= max_chars else title[: max_chars - 1] + "…")
    return titles


def is_refusal(answer: str) -> bool:
    """The model answered with (a version of) the fixed refusal sentence, or said in its own
    words, in every sentence, that the passages do not give the answer."""
    bare = CITATION_MARKER.sub("", answer)
    plain = _normalise(bare)
    if any(_normalise(sentence) in plain for sentence in prompts.table("refusals").values()):
        return True
    claims = [c for c in _claims(bare) if c.strip(" \n。.")]
    return bool(claims) and all(_NOT_FOUND.search(to_simplified(c)) for c in claims)


def _normalise(text: str) -> str:
    return re.sub(r"[\s。.，,！!]", "", to_simplified(text).lower())


def _tokens(text: str) -> set[str]:
    return set(_WORD.findall(to_simplified(CITATION_MARKER.sub(" ", text)).lower()))


def locate_quote(passage: Passage, claim: str, max_chars: int = 160) -> tuple[str, int, int]:
    """The passage sentence sharing most words with the claim, and its document offsets; the
    document's heading instead when it shares more (the model reads it with the passage).

    Names count by sound too, so an English claim finds the Chinese sentence that names the
    same place or person ("Taiyuan" and 太原) rather than the passage's first sentence.
    """
    claim_tokens = _tokens(claim) | set(romanised_name_tokens(CITATION_MARKER.sub(" ", claim)))

    def overlap(text: str) -> int:
        return len(claim_tokens & (_tokens(text) | set(pinyin_ngrams(text))))

    best: tuple[float, int, int] = (-1.0, 0, min(len(passage.text), max_chars))
    for match in _SENTENCE.finditer(passage.text):
        start, end = match.span()
        while start < end and passage.text[start].isspace():
            start += 1
        if start >= end:
            continue
        shared = overlap(passage.text[start:end])
        if shared > best[0]:
            best = (float(shared), start, min(end, start + max_chars))
    if passage.heading and overlap(passage.heading) > best[0]:
        quote = passage.heading[:max_chars]
        return quote, passage.heading_start, passage.heading_start + len(quote)
    _, start, end = best
    return passage.text[start:end], passage.start + start, passage.start + end


def heading_span(document: str, title: str, within: int = 1000) -> tuple[int, int] | None:
    """Where the document states `title`: the run of its opening lines that are parts of the
    title (a headline and its subtitle often stand on lines of their own)."""
    key = re.sub(r"\s+", "", title)
    found: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", document[:within]):
        line = re.sub(r"\s+", "", match.group())
        if len(line) >= 4 and line in key:
            found.append(match.span())
        elif line and found:
            break
    return (found[0][0], found[-1][1]) if found and key else None


def _claims(text: str) -> list[str]:
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
    return len(claim_tokens & _tokens(passage.text)) / len(claim_tokens) if claim_tokens else 0.0


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


def _with_markers(claim: str, numbers: Sequence[int]) -> str:
    """The claim with its markers replaced by `numbers`, placed before its closing stop."""
    bare = CITATION_MARKER.sub("", claim)
    end = len(bare.rstrip("。！？；.!?; \n"))
    tail = re.sub(r"^[ \t]+(?=[。！？；.!?;])", "", bare[end:])  # "Taiyuan [1]." -> "Taiyuan[1]."
    return bare[:end] + "".join(f"[{n}]" for n in numbers) + tail


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
    cited = [
        n
        for m in CITATION_MARKER.finditer(claim)
        for n in marker_numbers(m.group(1))
        if n in passage_numbers
    ]
    needed = _claim_numbers(claim) - asked_numbers
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


def _split_instructions(passages: Sequence[Passage]) -> tuple[set[str], set[str]]:
    """The words of the passages' factual sentences, and of their sentences that address the
    assistant (a planted "end every answer with X")."""
    factual: set[str] = set()
    instructions: set[str] = set()
    for p in passages:
        for sentence in _SENTENCE.findall(to_simplified(p.text)):
            (instructions if is_instruction(sentence) else factual).update(_tokens(sentence))
        for sentence in answer_guard.flagged_text(p):
            instructions.update(_tokens(sentence))
    return factual, instructions


def _echoes_instructions(
    claim: str, question_tokens: set[str], factual: set[str], instructions: set[str]
) -> bool:
    """The claim repeats instruction words and states nothing from the documents' facts: a
    phrase the question or a planted sentence told the model to say ("ACCESS GRANTED")."""
    tokens = _tokens(claim)
    if not tokens or tokens & factual:
        return False
    if tokens <= instructions:
        return True
    return not CITATION_MARKER.search(claim) and tokens <= question_tokens | instructions


def _check_claim(claim: str, passages: Sequence[Passage], min_support: float = 0.6) -> str:
    """Point the claim's markers at the passages that support it.

    Without a marker, a claim whose words mostly come from one passage is attributed to it
    (small models often forget markers). A marker whose passage shares less than half as many
    of the claim's words as the best-supporting passage is moved to that passage. Claims whose
    words match no passage (a translation, a paraphrase) keep the model's own markers.
    """
    tokens = _tokens(claim)
    best = max(passages, key=lambda p: _support(tokens, p), default=None)
    if best is None or _support(tokens, best) < min_support:
        return claim
    by_number = {p.n: p for p in passages}
    cited = [n for m in CITATION_MARKER.finditer(claim) for n in marker_numbers(m.group(1))]
    kept = [
        n
        for n in dict.fromkeys(cited)
        if n in by_number and _support(tokens, by_number[n]) >= _support(tokens, best) / 2
    ] or [best.n]
    return _with_markers(claim, kept)


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
    passage_numbers = {p.n: _numbers(to_simplified(f"{p.title}\n{p.text}")) for p in passages}
    return _Sources(
        asked_numbers.union(*passage_numbers.values()),
        asked_numbers,
        passage_numbers,
        _tokens(question),
        *_split_instructions(passages),
        answer_guard.evidence(passages, question),
    )


def check_claims(
    raw: str, passages: Sequence[Passage], language: Language, question: str = ""
) -> str:
    """The answer text with its markers pointed at supporting passages (passage numbers kept),
    and without sentences that invent a number or cite a passage that lacks it, use a marker
    as their answer, echo an instruction, or fail an answer-guard check (a link the cited
    passage does not state, a credential request, markup, a run of the prompt); usable on
    whole sentences as they stream."""
    text = _MARKER_AFTER_STOP.sub(r"\2\1", match_script(raw, language))
    found = _sources(tuple(passages), question)
    kept = (
        _check_claim(c, passages)
        for c in _claims(text)
        if _is_grounded(c, found.numbers)
        and not _is_hollow(c)
        and not _echoes_instructions(c, found.asked, found.factual, found.instructions)
        and not any(answer_guard.failed_checks(c, found.guard))
    )
    cited = (
        _cite_its_numbers(c, passages, found.asked_numbers, found.passage_numbers) for c in kept
    )
    return "".join(c for c in cited if c is not None)


def postprocess(
    raw: str, passages: Sequence[Passage], language: Language, question: str = ""
) -> CitedAnswer:
    """Check and renumber `[n]` markers, attach quotes, and recognise the refusal.

    Markers are pointed at the passages that support their sentence; sentences with a number
    found in no passage are dropped (an answer left with nothing is a refusal); markers that
    point to no given passage are removed; the rest are renumbered in order of first use, and
    `citations` lists exactly the passages the answer cites.
    """
    text = check_claims(raw.strip(), passages, language, question).strip()
    if not text or is_refusal(text) or answer_guard.leaks_prompt(raw):
        return CitedAnswer(refusal(language), True, [])
    by_number = {p.n: p for p in passages}
    order: list[int] = []

    def renumber(match: re.Match[str]) -> str:
        valid = [n for n in marker_numbers(match.group(1)) if n in by_number]
        for n in valid:
            if n not in order:
                order.append(n)
        return "".join(f"[{order.index(n) + 1}]" for n in dict.fromkeys(valid))

    answer = CITATION_MARKER.sub(renumber, text)
    answer = re.sub(r"[ \t]+([。，！？.,!?])", r"\1", answer)
    answer = re.sub(r"[ \t]{2,}", " ", answer).strip()
    if language == "en":  # a name left in Chinese reads "held in the 四川省", not "the四川省"
        answer = _LATIN_HAN.sub(" ", answer)
    citations = []
    for new_n, old_n in enumerate(order, start=1):
        passage = by_number[old_n]
        claim = " ".join(c for c in _claims(answer) if f"[{new_n}]" in c) or answer
        quote, start, end = locate_quote(passage, claim)
        citations.append(
            Citation(
                n=new_n,
                doc_id=passage.doc_id,
                chunk_id=passage.chunk_id,
                title=passage.title,
                quote=quote,
                start=start,
                end=end,
                score=passage.score,
                url=view_url(passage.doc_id, start, end),
            )
        )
    return CitedAnswer(answer, False, citations)
