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
from itertools import pairwise

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


# Titles written after a person's name ("钟南山院士", "李思进教授"): the word before one is a
# name even where the tagger reads it otherwise (钟南山 as a mountain).
_TITLES = frozenset({
    "院士", "教授", "副教授", "博士", "医生", "医师", "主任", "副主任", "老师", "先生", "女士",
    "院长", "副院长", "校长", "副校长", "书记", "会长", "理事长", "主席", "研究员", "部长",
    "司长", "局长", "处长", "所长",
})  # fmt: skip
_TITLED = frozenset({"nr", "nrfg", "nrt", "ns"})
_HAN_NAME = re.compile(r"[\u3400-\u9fff]{2,3}")


def titled_names(text: str) -> list[tuple[str, str]]:
    """Words of two or three characters the tagger takes for a name (or, three long, for a
    place), written right before a person's title, with their pinyin: names `person_names`
    misses. Not used for passages' names, whose respelling was measured without it."""
    words = pos_tagged(_t2s_converter().convert(text))
    return [
        (word, romanise_name(word))
        for (word, flag), (after, _) in pairwise(words)
        if flag in _TITLED
        and after in _TITLES
        and _HAN_NAME.fullmatch(word)
        and (flag != "ns" or len(word) == 3)  # not a city's professors (成都教授)
    ]
