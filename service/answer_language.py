"""Answers in the language of the question: a sentence the model wrote in another language (an
English question answered in Chinese prose, a Chinese one in English) is translated before it
is checked and sent, because users read the language they asked in.

The small model drifts into its passages' language now and then; translating the sentence it
wrote keeps its facts and citations, where asking it to answer again would not. The same model
translates, so people's names go to it already in pinyin, and a translation that loses a figure
(into English also a name, or that leaves Chinese prose behind) is not used: the sentence then
stays as the model wrote it, right in the wrong language rather than wrong in the right one.
Into Chinese only figures are checked: a name in pinyin may come back in guessed characters.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from index.chunking import split_sentences
from index.names import person_names
from index.textnorm import detect_text_language, script_counts
from ragqa.errors import EngineUnavailable, GenerationFailed
from ragqa.types import CITATION_MARKER, Language
from service.language import corpus_language, match_script

log = logging.getLogger(__name__)

Translate = Callable[[str, str], str | None]
"""(text, target) -> the text in `target` ("en" or "zh"), or None / "" when none was made."""

_FIGURE = re.compile(r"\d+(?:\.\d+)?")
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z/'-]*")
_BRACKETED = re.compile(r"[(（][^)）]*[)）]")
_END = re.compile(r"[\s。．.!！?？;；:：,，]*$")
_FULL_STOP = {"en": ".", "zh": "。"}


def in_wrong_language(text: str, language: str) -> bool:
    """`text` is not written in the question's `language`: an English question answered in
    Chinese prose (more Chinese characters than Latin letters; "Li Hua (李华)" is English), or a
    Chinese question answered without a Chinese character."""
    plain = CITATION_MARKER.sub(" ", text)
    if language == "en":
        return detect_text_language(plain) == "zh"
    return script_counts(plain)[0] == 0 if language.startswith("zh") else False


def _has_words(text: str) -> bool:
    cjk, latin = script_counts(CITATION_MARKER.sub(" ", text))
    return cjk + latin > 0


def retell(sentence: str, language: Language, translate: Translate) -> str:
    """`sentence` in `language` when the model wrote it in another, its citation markers kept
    at its end; `sentence` unchanged when it is in `language` already or no translation came."""
    if not _has_words(sentence) or not in_wrong_language(sentence, language):
        return sentence
    lead = sentence[: len(sentence) - len(sentence.lstrip())]
    trail = sentence[len(sentence.rstrip()) :]
    markers = "".join(m.group(0) for m in CITATION_MARKER.finditer(sentence))
    body = _END.sub("", CITATION_MARKER.sub("", sentence).strip())
    target = corpus_language(language)
    asked = body
    if target == "en":  # 田蓉 goes as "Tian Rong", not for the model to guess
        for written, romanised in person_names(body):
            asked = asked.replace(written, romanised)
    try:
        made = translate(asked, target) or ""
    except (GenerationFailed, EngineUnavailable) as e:
        log.warning("answer sentence left in the model's language: %s", e)
        return sentence
    made = _END.sub("", match_script(made.strip(), language))
    if not made or in_wrong_language(made, language) or not faithful(asked, made, target):
        return sentence
    return f"{lead}{made}{markers}{_FULL_STOP[target]}{trail}"


def faithful(source: str, made: str, target: str) -> bool:
    """`made` keeps what a translation must not lose: every figure of `source`; in English
    also its words in Latin letters (the names put in pinyin, PET/CT), and no Chinese is left
    outside brackets (a name's characters may follow it there)."""
    if not set(_FIGURE.findall(source)) <= set(_FIGURE.findall(made)):
        return False
    if target != "en":
        return True
    kept = made.casefold()
    if not all(w.casefold() in kept for w in _LATIN_WORD.findall(source)):
        return False
    return script_counts(_BRACKETED.sub("", made))[0] == 0


def needs_retelling(text: str, language: Language) -> bool:
    """Some sentence of `text` is in another language than `language`."""
    return any(
        _has_words(text[a:b]) and in_wrong_language(text[a:b], language)
        for a, b in split_sentences(text)
    )


def retell_text(text: str, language: Language, translate: Translate) -> str:
    """Every sentence of `text` in `language` (`retell`), the text between them kept."""
    out, at = [], 0
    for start, end in split_sentences(text):
        out.append(text[at:start])
        out.append(retell(text[start:end], language, translate))
        at = end
    out.append(text[at:])
    return "".join(out)


__all__ = [
    "Translate",
    "faithful",
    "in_wrong_language",
    "needs_retelling",
    "retell",
    "retell_text",
]
