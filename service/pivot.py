"""Answering in the passages' language, then translating the checked answer.

A small model reading Chinese passages and writing English misreads names and roles; reading
and writing in one language it does much better. So when a question's language differs from
that of most passages, the model answers in the passages' language, the answer is checked
against the passages in that language, and each checked sentence is then translated back into
the question's language with its markers kept.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

from index.textnorm import detect_text_language, pinyin_ngrams, romanised_name_tokens
from ragqa.types import CITATION_MARKER, Language, marker_numbers
from service.answer import CitedAnswer, refusal, space_names
from service.claims import claim_numbers, split_claims, with_markers
from service.language import corpus_language, match_script
from service.passages import Passage


class SentenceTranslator(Protocol):
    def translate(self, query: str, target: str) -> str: ...

    def translate_sentence(self, sentence: str, target: str) -> str: ...


def reading_language(language: Language, passages: Sequence[Passage]) -> Language:
    """The language to answer in: the question's, unless most passages are in the other one
    ("zh" passages are read in simplified Chinese)."""
    if not passages:
        return language
    in_chinese = sum(detect_text_language(p.text) == "zh" for p in passages)
    majority = (
        "zh" if in_chinese * 2 > len(passages) else "en" if in_chinese * 2 < len(passages) else None
    )
    if majority is None or majority == corpus_language(language):
        return language
    return "zh-Hans" if majority == "zh" else "en"


def pivot_question(question: str, reading: Language, translator: SentenceTranslator) -> str:
    """The question in the reading language, with the original kept after it: translation
    can garble a name that the original spells right."""
    translated = translator.translate(question, corpus_language(reading)).strip()
    if not translated or translated == question:
        return question
    return f"{translated} ({question})"


def translate_answer(
    cited: CitedAnswer, language: Language, translator: SentenceTranslator
) -> CitedAnswer:
    """The checked answer in the question's language: sentence by sentence, each keeping its
    markers (so its citations stand). A translation that states a figure its sentence does not,
    or spells a name its sentence does not have, is not used: the sentence is kept as the
    passages' language has it, since a garbled name is an unsupported claim."""
    if cited.refused:
        return CitedAnswer(refusal(language), True, [])
    target = corpus_language(language)
    sentences = []
    for claim in split_claims(cited.answer):
        numbers = [n for m in CITATION_MARKER.finditer(claim) for n in marker_numbers(m.group(1))]
        bare = re.sub(r"\s+(?=[。！？；，.!?;,])", "", CITATION_MARKER.sub("", claim)).strip()
        if not bare.strip("。.，,；; "):
            sentences.append(claim.strip())
            continue
        translated = translator.translate_sentence(bare, target).strip()
        if translated and _faithful(bare, translated, target):
            bare = space_names(match_script(translated, language), language)
        sentences.append(with_markers(bare, list(dict.fromkeys(numbers))))
    joiner = " " if target == "en" else ""
    return CitedAnswer(joiner.join(s for s in sentences if s), False, cited.citations)


# Two adjacent capitalised words, overlapping: "Yi Qun", "Zhao Changjiu", "Sichuan Province".
_NAME_PAIR = re.compile(r"(?=\b([A-Z][a-z]+) ([A-Z][a-z]+)\b)")


def _romanised_names(english: str) -> set[str]:
    """Adjacent capitalised words that spell two or three pinyin syllables, joined and lower
    case: how a Chinese person's name is written in English ("Yi Qun" -> "yiqun")."""
    names = set()
    for first, second in _NAME_PAIR.findall(english):
        joined = (first + second).lower()
        if joined in romanised_name_tokens(f"{first} {second}"):
            names.add(joined)
    return names


def _faithful(source: str, translated: str, target: str) -> bool:
    """The translation states no figure the source does not, and every romanised name on the
    English side sounds like a name on the Chinese side (a small model turns 易群 into "Ye
    Qun" and 赵长久 into "Xu Changjiu")."""
    if not claim_numbers(translated) <= claim_numbers(source):
        return False
    english, chinese = (translated, source) if target == "en" else (source, translated)
    return _romanised_names(english) <= set(pinyin_ngrams(chinese))
