"""People's names in Chinese text, with their pinyin: what an English answer should call them.

A small model writing English from Chinese passages translates a name by its characters'
meanings (易群 becomes "Easy Qun") or guesses its sound; given the name's pinyin beside the
passage it copies it. Names are found by jieba's part-of-speech tagger (tag ``nr``): a word it
tags as a person's name and does not know as a dictionary word, or a three-character name its
dictionary holds but rarely sees (dictionary words it also tags ``nr``, such as 智慧 "wisdom",
are common words far more often than names).

Questions name people too, and one about someone the documents never name is refused: for it,
names are also found before a title (back to a surname, where the tagger splits a name) and
written in pinyin in English text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from index.textnorm import _jieba, pos_tagged, to_simplified

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
# Abbreviated bodies the tagger reads as a surname and a given name (卫健委: 卫 is a surname):
# given names do not end in these characters.
_BODY_ENDINGS = frozenset("委办局厅署处队站室司部所")


def _is_name(word: str, flag: str) -> bool:
    if flag != "nr" or not _HAN_ONLY.fullmatch(word) or word[-1] in _BODY_ENDINGS:
        return False
    seen = _jieba().dt.FREQ.get(word)
    return not seen or (len(word) == _RARE_LENGTH and seen <= _RARE)


def romanise_name(name: str) -> str:
    """Pinyin as names are written in English: surname, then the given name as one word
    ("刘亚强" -> "Liu Yaqiang")."""
    from pypinyin import lazy_pinyin

    simplified = to_simplified(name)
    syllables = lazy_pinyin(simplified)
    syllables[0] = _SURNAME_READINGS.get(simplified[0], syllables[0])
    return f"{syllables[0].capitalize()} {''.join(syllables[1:]).capitalize()}"


@lru_cache(maxsize=1024)
def person_names(text: str) -> tuple[tuple[str, str], ...]:
    """Each person's name in `text` once, as written there (simplified or traditional), with
    its pinyin, in order of first appearance."""
    if not _HAN_ONLY.search(text):
        return ()
    simplified = to_simplified(text)
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
_HAN_SPAN = re.compile(r"[\u3400-\u9fff]{1,3}")


# About two hundred of the commonest Chinese surnames: the first character of a name whose
# given name the tagger splits off ("刘 / 海涛"), and the surname of a name written in pinyin.
_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
    "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝"
    "龚邵万钱严覃武戴莫孔向汤易常温康施文牛樊葛邢安齐乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞"
    "左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕"
)


def _titled(words: list[tuple[str, str]], at: int) -> str | None:
    """The name right before the title at `words[at]`, or None: the two or three characters
    back to a surname, the two preferred (汪静 in 委员汪静, not 员汪静) and neither a common
    word (高级); else a word the tagger takes for a name (or, three long, for a place)."""
    span = ""
    for before, _ in reversed(words[:at]):
        span = before + span
        if not _HAN_SPAN.fullmatch(span):
            break
        if len(span) > 1 and span[0] in _SURNAMES and _jieba().dt.FREQ.get(span, 0) <= _RARE:
            return span
    word, flag = words[at - 1] if at else ("", "")
    if flag in _TITLED and _HAN_NAME.fullmatch(word) and (flag != "ns" or len(word) == 3):
        return word  # not a city's professors (成都教授): a city is two long
    return None


def titled_names(text: str) -> list[tuple[str, str]]:
    """Names of two or three characters written right before a person's title, with their
    pinyin: names `person_names` misses (钟南山 read as a mountain, 刘 / 海涛 split). Not used
    for passages' names, whose respelling was measured without it."""
    words = list(pos_tagged(to_simplified(text)))
    found = (_titled(words, at) for at, (word, _) in enumerate(words) if word in _TITLES)
    return [(name, romanise_name(name)) for name in dict.fromkeys(n for n in found if n)]


@lru_cache(maxsize=1)
def _syllables() -> frozenset[str]:
    """Every toneless pinyin syllable of two letters or more (pypinyin's readings)."""
    from pypinyin import Style
    from pypinyin.pinyin_dict import pinyin_dict
    from pypinyin.style import convert

    readings = (r for rs in pinyin_dict.values() for r in rs.split(","))
    return frozenset(
        s for s in (convert(r, Style.NORMAL, strict=True) for r in readings) if _PINYIN.fullmatch(s)
    )


@lru_cache(maxsize=1)
def _surname_sounds() -> frozenset[str]:
    return frozenset(romanise_name(s + s).split(" ", 1)[0].lower() for s in _SURNAMES)


def _split(word: str) -> list[tuple[str, ...]]:
    """The ways `word` (lower case) reads as one or two pinyin syllables."""
    syllables = _syllables()
    ways = [(word,)] if word in syllables else []
    return ways + [
        (word[:i], word[i:])
        for i in range(2, len(word) - 1)
        if word[:i] in syllables and word[i:] in syllables
    ]


_PINYIN = re.compile(r"(?=[a-z]*[aeiou])[a-z]{2,6}")  # not ng, hm
_TWO_WORDS = re.compile(r"(?<![\w-])(?=([A-Z][a-z]+) ([A-Z][a-z]+(?:-[a-z]+)?)(?![\w-]))")


def pinyin_names(text: str) -> list[tuple[str, tuple[tuple[str, ...], ...]]]:
    """Chinese names written in pinyin in English text, as written there, with the syllables
    each may stand for (surname first): a surname then a given name of one or two syllables
    ("Wang Jing", "Liu Ya-qiang"), or a two-syllable given name then a surname ("Sijin Li";
    one syllable would take Hong Kong for a name)."""
    found: list[tuple[str, tuple[tuple[str, ...], ...]]] = []
    surnames = _surname_sounds()
    for first, second in _TWO_WORDS.findall(text):
        a, b = first.lower(), second.lower().replace("-", "")
        readings = [(a, *given) for given in _split(b)] if a in surnames else []
        if b in surnames:
            readings += [(b, *given) for given in _split(a) if len(given) == 2]
        if readings:
            found.append((f"{first} {second}", tuple(readings)))
    return found
