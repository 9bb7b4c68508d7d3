"""People's names in Chinese text, with their pinyin: what an English answer should call them.

A small model writing English from Chinese passages translates a name by its characters'
meanings (易群 becomes "Easy Qun") or guesses its sound; given the name's pinyin beside the
passage it copies it. Names are found by jieba's part-of-speech tagger (tag ``nr``): a word it
tags as a person's name and does not know as a dictionary word, or a three-character name its
dictionary holds but rarely sees (dictionary words it also tags ``nr``, such as 智慧 "wisdom",
are common words far more often than names).
"""

from __future__ import annotations

import re
from functools import lru_cache

from index.textnorm import _jieba, _t2s_converter, pos_tagged

# Surnames read otherwise than their characters' most common reading.
_SURNAME_READINGS = {
    "解": "xie", "单": "shan", "曾": "zeng", "区": "ou", "仇": "qiu", "查": "zha", "朴": "piao",
    "乐": "yue", "缪": "miao", "尉": "yu", "盖": "ge", "覃": "qin", "柏": "bai", "秘": "bi",
    "长": "zhang", "重": "chong", "沈": "shen", "万": "wan", "蕃": "pi", "种": "chong",
}  # fmt: skip
# A dictionary word tagged as a name is taken for one only this rarely seen and this long.
_RARE = 30
_RARE_LENGTH = 3
_HAN_ONLY = re.compile(r"[\u3400-\u9fff]{2,4}")


def _is_name(word: str, flag: str) -> bool:
    if flag != "nr" or not _HAN_ONLY.fullmatch(word):
        return False
    seen = _jieba().dt.FREQ.get(word)
    return not seen or (len(word) == _RARE_LENGTH and seen <= _RARE)


def romanise_name(name: str) -> str:
    """Pinyin as names are written in English: surname, then the given name as one word
    ("刘亚强" -> "Liu Yaqiang")."""
    from pypinyin import lazy_pinyin

    simplified = _t2s_converter().convert(name)
    syllables = lazy_pinyin(simplified)
    syllables[0] = _SURNAME_READINGS.get(simplified[0], syllables[0])
    return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"


@lru_cache(maxsize=1024)
def person_names(text: str) -> tuple[tuple[str, str], ...]:
    """Each person's name in `text` once, as written there (simplified or traditional), with
    its pinyin, in order of first appearance."""
    if not _HAN_ONLY.search(text):
        return ()
    simplified = _t2s_converter().convert(text)
    if len(simplified) != len(text):  # a conversion that changed lengths: no offsets to map
        text = simplified
    found: dict[str, str] = {}
    at = 0
    for word, flag in pos_tagged(simplified):
        if _is_name(word, flag):
            written = text[at : at + len(word)]
            found.setdefault(written, romanise_name(word))
        at += len(word)
    return tuple(found.items())
