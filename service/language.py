"""Which language a question is in, and answering in the same script.

A question's `Language` tells the two Chinese scripts apart, because its answer is written in
the question's script; the index's coarser `TextLanguage` of a document ("zh" or "en", from
`index.textnorm.detect_text_language`) only decides how the text is tokenised and searched.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from index.textnorm import to_simplified
from ragqa.types import Language, TextLanguage

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


@cache
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def to_traditional(text: str) -> str:
    return str(_s2t().convert(text))


def detect_language(text: str) -> Language:
    """Chinese when CJK characters outnumber Latin letters / 4 (a CJK char carries a word);
    traditional when more characters change under t2s than under s2t."""
    cjk = _CJK.findall(text)
    if not cjk or len(cjk) * 4 < len(_LATIN.findall(text)):
        return "en"
    han = "".join(cjk)
    traditional_only = sum(a != b for a, b in zip(han, to_simplified(han), strict=False))
    simplified_only = sum(a != b for a, b in zip(han, to_traditional(han), strict=False))
    return "zh-Hant" if traditional_only > simplified_only else "zh-Hans"


def match_script(text: str, language: Language) -> str:
    """Put Chinese text into the question's script; English is left alone."""
    if language == "zh-Hant":
        return to_traditional(text)
    if language == "zh-Hans":
        return to_simplified(text)
    return text


def corpus_language(language: Language) -> TextLanguage:
    """The index's coarse language label ("zh" or "en") for a question language."""
    return "en" if language == "en" else "zh"
