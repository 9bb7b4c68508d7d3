"""Text folding and word segmentation for the lexical (BM25) index and for language detection.

Stored text keeps the document's own script; only the lexical index sees this folded form, so a
question in simplified Chinese matches a document in traditional Chinese and vice versa.

Segmentation uses `jieba.lcut_for_search`, which emits the whole word *and* its dictionary
sub-words (``医科大学`` -> ``医科 科大 大学 医科大 医科大学``), so a query that names part of a
compound matches it, which plain `lcut` mostly misses, for somewhat more index tokens
(tests/index/test_textnorm.py::test_search_mode_matches_more_partial_queries checks the
matches on the bundled corpus).

Chinese text is also indexed by its sound: the pinyin of every two and three adjacent
characters, joined (``唐勇林`` -> ``tangyong yonglin tangyonglin``). An English question writes
Chinese names and places that way ("Tang Yonglin", "Taiyuan"), so it can match the Chinese text
that names them, where a translated question often gets the characters wrong.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Sequence
from functools import cache, lru_cache
from itertools import pairwise
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ragqa.types import TextLanguage

if TYPE_CHECKING:
    from opencc import OpenCC

_CJK_IDEOGRAPH = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LATIN_LETTER = re.compile(r"[A-Za-z\u00c0-\u024f]")
# A token worth indexing holds at least one letter, digit or ideograph (not just "_" or marks).
_WORD_CHAR = re.compile(r"[^\W_]")
_HAN_RUN = re.compile(_CJK_IDEOGRAPH.pattern + "+")
_LATIN_WORD = re.compile(r"[a-z]+(?:['’\-][a-z]+)*")
_POSSESSIVE = re.compile(r"['’]s$")


@cache
def _t2s_converter() -> OpenCC:
    """Built once on first use: loading the OpenCC tables costs tens of milliseconds."""
    from opencc import OpenCC

    return OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional Chinese characters written as simplified ones (OpenCC t2s)."""
    return str(_t2s_converter().convert(text))


@cache
def _jieba() -> ModuleType:
    """Initialise jieba once, without its 'Building prefix dict' chatter on stderr."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@lru_cache(maxsize=1024)
def pos_tagged(text: str) -> tuple[tuple[str, str], ...]:
    """jieba's words of `text` with their part-of-speech tags (ns place, nt organisation, t
    time, nr person, …), from the same initialised dictionary as `tokenize`. Cached: an
    English answer's checks tag the same passages for names and for terms."""
    _jieba()
    import jieba.posseg

    return tuple((pair.word, pair.flag) for pair in jieba.posseg.cut(text))


def normalise_for_lexical(text: str) -> str:
    """Fold script, width and case: traditional -> simplified, full-width -> ASCII, lower case."""
    folded = unicodedata.normalize("NFKC", text)
    return _t2s_converter().convert(folded).lower()


def tokenize(text: str) -> list[str]:
    """Words of `text` for BM25: jieba search-mode cuts of the folded text, no spaces or marks."""
    return _words(normalise_for_lexical(text))


def _words(folded: str) -> list[str]:
    return [token for token in _jieba().lcut_for_search(folded) if _WORD_CHAR.search(token)]


def _no_reading(chars: str) -> Any:
    """A character pypinyin cannot read becomes "" (one per character; pypinyin takes a
    list though its stub says str), so no n-gram spans it."""
    return [""] * len(chars)


def pinyin_ngrams(text: str) -> list[str]:
    """Toneless pinyin of each two and three adjacent Chinese characters, joined.

    Single syllables are left out: each stands for dozens of characters, so only longer
    sequences say anything about a name.
    """
    return _pinyin_grams(normalise_for_lexical(text))


def _pinyin_grams(folded: str) -> list[str]:
    from pypinyin import lazy_pinyin

    grams: list[str] = []
    for run in _HAN_RUN.findall(folded):
        grams.extend(syllable_ngrams(lazy_pinyin(run, errors=_no_reading)))
    return grams


def syllable_ngrams(syllables: Sequence[str]) -> list[str]:
    """Each two and three adjacent syllables joined, skipping windows with an unread one (""):
    how `pinyin_ngrams` joins a run's pinyin, and how a name written in pinyin is matched."""
    grams: list[str] = []
    for n in (2, 3):
        windows = (syllables[i : i + n] for i in range(len(syllables) - n + 1))
        grams.extend("".join(w) for w in windows if all(w))
    return grams


def index_tokens(text: str) -> list[str]:
    """What the lexical index stores for a chunk: its words, then its pinyin n-grams (the
    text folded once: OpenCC's conversion is the costly part)."""
    folded = normalise_for_lexical(text)
    return _words(folded) + _pinyin_grams(folded)


@cache
def _pinyin_syllables() -> frozenset[str]:
    """Every toneless pinyin syllable, from pypinyin's dictionary (interjections such as
    "m" and "hng", which have no vowel, left out)."""
    from pypinyin import Style
    from pypinyin.pinyin_dict import pinyin_dict
    from pypinyin.style import convert

    readings = {r for value in pinyin_dict.values() for r in value.split(",")}
    toneless = {convert(r, Style.NORMAL, strict=True) for r in readings}
    return frozenset(s for s in toneless if re.fullmatch(r"[a-z]*[aeiou][a-z]*", s))


def _syllable_counts(word: str, most: int = 3) -> set[int]:
    """Into how many pinyin syllables, up to `most`, `word` can be split ("xian": 1 or 2)."""
    syllables = _pinyin_syllables()
    counts: list[set[int]] = [{0}] + [set() for _ in word]  # counts[i]: splits of word[:i]
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):  # no syllable is longer than 6 letters
            if word[start:end] in syllables:
                counts[end] |= {c + 1 for c in counts[start] if c < most}
    return counts[-1]


def romanised_name_tokens(text: str) -> list[str]:
    """The words of Latin text that may spell two or three Chinese characters in pinyin,
    alone or joined with the next word ("Tang Yonglin" -> yonglin tangyonglin; "Xi'an" ->
    xian). English words that happen to spell pinyin ("dean") pass too; "of" does not."""
    found = _LATIN_WORD.findall(normalise_for_lexical(text))
    # "Kong Fanpu's keynote": the possessive is not part of the name (fanpus spells nothing).
    words = [re.sub(r"['’\-]", "", _POSSESSIVE.sub("", w)) for w in found]
    candidates = words + [a + b for a, b in pairwise(words)]
    return [w for w in candidates if _syllable_counts(w) & {2, 3}]


def sound_tokens(query: str, language: str) -> list[str]:
    """The query's names as the other script writes them, for searching text in that script:
    an English query's romanised words against Chinese text's pinyin n-grams, a Chinese
    query's pinyin n-grams against English words."""
    return romanised_name_tokens(query) if language == "en" else pinyin_ngrams(query)


def script_counts(text: str) -> tuple[int, int]:
    """How many CJK ideographs and how many Latin letters `text` holds."""
    return len(_CJK_IDEOGRAPH.findall(text)), len(_LATIN_LETTER.findall(text))


def detect_text_language(text: str) -> TextLanguage:
    """'zh' when CJK ideographs outnumber Latin letters, else 'en' (also for text with neither)."""
    cjk, latin = script_counts(text)
    return "zh" if cjk > latin else "en"
