"""Turning passages into a prompt, and a raw model answer into a cited one.

Pure functions: the answerer and the tests call them with plain data. The sentence checks an
answer passes first are in `service/claims.py`; here markers are renumbered and each cited
passage gets a quote with its document offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import prompts
from index.injection import screen
from index.textnorm import detect_text_language, pinyin_ngrams, romanised_name_tokens
from index.translations import Reading
from ragqa.types import CITATION_MARKER, Language, marker_numbers
from service import answer_guard
from service.answer_kind import answers_kind
from service.claims import SENTENCE, check_claims, is_refusal, split_claims, words
from service.generation.base import ChatMessage
from service.language import to_simplified
from service.passages import Citation, Passage
from service.quote_first import Quote, reply_head
from service.respectively import unroll_respectively

# Chat-control tokens of the common templates (ChatML, Llama, Gemma), and ragqa's own passage
# frame: a document or question containing one must not be able to leave its place.
_CONTROL_TOKENS = re.compile(
    r"<\|[a-zA-Z_]+\|>|<\|?(?:im_start|im_end|endoftext|eot_id|start_header_id|end_header_id)\|?>"
    r"|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>"
    r"|</?\s*passages\s*>",  # the frame passages are put in: a document cannot close it
    re.IGNORECASE,
)
_GLOSS_NAME = {"zh": "zh-Hans", "en": "en"}  # a translation's language, as `languages` names it
# A Latin letter or digit touching a Chinese character, either way round.
_LATIN_HAN = re.compile(
    r"(?<=[A-Za-z0-9,;:])(?=[\u3400-\u9fff])|(?<=[\u3400-\u9fff])(?=[A-Za-z0-9])"
)


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


def _user_turn(
    question: str, rendered_passages: str, language: Language, task: str = "question"
) -> str:
    """The passages and the question, then the task: answering (`question`) or judging
    whether the passages answer it (`support`). Both tasks start alike, so the engine's prompt
    cache carries the passages from the judgement over to the answer."""
    context = prompts.render("context", passages=rendered_passages, question=question)
    instruction = prompts.render(
        task, language=prompts.table("languages")[language], refusal=refusal(language)
    )
    return f"{context}\n\n{instruction}"


def _render_passages(passages: Sequence[Passage], simplified: bool = False) -> str:
    """The numbered passages as the model reads them; with `simplified`, in simplified
    characters whatever their script."""
    shown = to_simplified if simplified else str
    return "\n".join(
        prompts.render(
            "passage",
            n=str(p.n),
            title=shown(title),
            text=shown(neutralise(unroll_respectively(answer_guard.kept_text(p)))),
        )
        for p, title in zip(passages, _titles(passages), strict=True)
    )


def _quoted_reply(example: dict[str, Any]) -> str:
    """An example's reply in the quote-first form: its evidence, then the answer."""
    quotes = [Quote(e["passage"], e["text"]) for e in example["evidence"]]
    return f"{reply_head(quotes, example['language'])} {example['answer']}"


@cache
def _examples(quoting: bool) -> tuple[ChatMessage, ...]:
    """Worked examples (citing, refusing) shown before the real question. They are the same
    for every request, so llama.cpp keeps them in its prompt cache with the system prompt.
    With `quoting`, each reply first copies its evidence (service/quote_first.py)."""
    turns: list[ChatMessage] = []
    for example in prompts.examples():
        rendered = "\n".join(
            prompts.render("passage", n=str(n), title=p["title"], text=p["text"])
            for n, p in enumerate(example["passages"], start=1)
        )
        task = "quote" if quoting else "question"
        question, language = example["question"], example["language"]
        turns.append({"role": "user", "content": _user_turn(question, rendered, language, task)})
        reply = _quoted_reply(example) if quoting else example["answer"]
        turns.append({"role": "assistant", "content": reply})
    return tuple(turns)


def preamble(*, quoting: bool = False) -> list[ChatMessage]:
    """The system rules and worked examples that every prompt starts with."""
    names = prompts.table("languages")
    refusals = "\n".join(f"- {names[k]}: {v}" for k, v in prompts.table("refusals").items())
    system: ChatMessage = {"role": "system", "content": prompts.render("system", refusals=refusals)}
    return [system, *_examples(quoting)]


def build_messages(
    question: str,
    passages: Sequence[Passage],
    language: Language,
    *,
    task: str = "question",
    quoting: bool = False,
    gloss: tuple[str, str] | None = None,
    read_simplified: bool = False,
) -> list[ChatMessage]:
    """The preamble, then one user turn holding the passages, the question and the task
    (`question`: answer it; `quote`: copy the evidence, then answer; `support`: say yes or no,
    do the passages answer it). No earlier turn of a conversation: the conversation chose
    the passages and resolved the question's "he" (service.retrieval), and an earlier answer,
    shown, was copied as if a passage said it. `quoting` picks the preamble whose examples quote
    first: a judgement before a quote-first answer shares that answer's preamble and cache.
    `gloss` is the question's translation and its language ("zh" or "en"), shown beneath it.
    With `read_simplified`, passages are shown in simplified characters unless the question is
    in traditional ones (the answer is written in the question's script) or the reply quotes.

    Documents and the question go in without their sentences screened as instructions (an
    order to the assistant, a role marker), and without chat-control tokens.
    """
    asked = neutralise(screen(question, question=True).kept.strip())
    if gloss is not None:  # the question in the passages' other language, beneath it
        translated, target = gloss
        shown = neutralise(screen(translated, question=True).kept.strip())
        if shown:
            names = prompts.table("languages")
            asked = prompts.render(
                "gloss", question=asked, gloss_language=names[_GLOSS_NAME[target]], gloss=shown
            )
    # Not with quoting: its grammar holds the quote to the passage's own characters.
    simplified = read_simplified and not quoting and language != "zh-Hant"
    user = _user_turn(asked, _render_passages(passages, simplified), language, task)
    return [*preamble(quoting=quoting), {"role": "user", "content": user}]


def question_gloss(
    question: str, queries: Sequence[str], passages: Sequence[Passage]
) -> tuple[str, str] | None:
    """The question's translation that its search made (`queries[1]`) and its language, to
    show beneath the question when some passage is written in that language; none for a
    question searched together with an earlier one, whose translation is of both."""
    if len(queries) < 2 or queries[0] != question:
        return None
    translated, target = queries[1], detect_text_language(queries[1])
    if target == detect_text_language(question):
        return None
    if not any(detect_text_language(p.hit.chunk.text) == target for p in passages):
        return None
    return translated, target


def _titles(passages: Sequence[Passage], max_chars: int = 60) -> list[str]:
    """Each document's title once, at its first passage: prefill time is the scarce resource."""
    seen: dict[str, int] = {}
    titles = []
    for p in passages:
        if p.doc_id in seen:
            titles.append(f"same document as [{seen[p.doc_id]}]")
        else:
            seen[p.doc_id] = p.n
            title = neutralise(p.read_title).strip()
            titles.append(title if len(title) <= max_chars else title[: max_chars - 1] + "…")
    return titles


def locate_quote(passage: Passage, claim: str, max_chars: int = 160) -> tuple[str, int, int]:
    """The passage sentence sharing most words with the claim, and its document offsets; the
    document's heading instead when it shares more (the model reads it with the passage).

    Names count by sound too, so an English claim finds the Chinese sentence that names the
    same place or person ("Taiyuan" and 太原) rather than the passage's first sentence.
    """
    claim_tokens = words(claim) | set(romanised_name_tokens(CITATION_MARKER.sub(" ", claim)))

    def overlap(text: str) -> int:
        return len(claim_tokens & (words(text) | set(pinyin_ngrams(text))))

    if passage.reading is not None and passage.reading.sentences:
        return _quote_through_reading(passage, passage.reading, overlap, max_chars)

    best: tuple[float, int, int] = (-1.0, 0, min(len(passage.text), max_chars))
    for match in SENTENCE.finditer(passage.text):
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


def _quote_through_reading(
    passage: Passage, reading: Reading, overlap: Callable[[str], int], max_chars: int
) -> tuple[str, int, int]:
    """The original of the translated sentence sharing most words with the claim (the model
    read the translation), or the heading when its translation shares more."""
    shared, start, end = max(
        ((overlap(t), start, end) for t, start, end in reading.sentences),
        key=lambda best: best[0],
    )
    if passage.heading and reading.title and overlap(reading.title) > shared:
        quote = passage.heading[:max_chars]
        return quote, passage.heading_start, passage.heading_start + len(quote)
    end = min(end, start + max_chars)
    return passage.text[start:end], passage.start + start, passage.start + end


def postprocess(
    raw: str, passages: Sequence[Passage], language: Language, question: str = ""
) -> CitedAnswer:
    """Check and renumber `[n]` markers, attach quotes, and recognise the refusal.

    Markers are pointed at the passages that support their sentence; sentences with a number
    found in no passage are dropped (an answer left with nothing is a refusal, as is one that
    states no quantity, time or place a question asks for: `service.answer_kind`); markers
    that point to no given passage are removed; the rest are renumbered in order of first
    use, and `citations` lists exactly the passages the answer cites.
    """
    text = check_claims(raw.strip(), passages, language, question).strip()
    if (
        not text
        or is_refusal(text)
        or answer_guard.leaks_prompt(raw)
        or not answers_kind(question, text)
    ):
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
        claim = " ".join(c for c in split_claims(answer) if f"[{new_n}]" in c) or answer
        quote, start, end = locate_quote(passage, claim)
        citations.append(Citation(n=new_n, passage=passage, quote=quote, start=start, end=end))
    return CitedAnswer(answer, False, citations)
