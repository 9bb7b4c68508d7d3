"""The kind of answer a question asks for (a quantity, a time, a place), and whether an answer
states one: "how many" answered with no number, or "where" with no place, does not answer,
however fluent and cited it is, so the answer is the refusal instead.

A classic question-answering check (the expected answer type), made with patterns of the three
scripts and jieba's part-of-speech tags, no model call. What the answer states is counted only
when it is not already in the question: restating "the 2023 conference had experts" states no
quantity. A question asking for several kinds is answered when any one of them is stated.
"""

from __future__ import annotations

import re
from enum import StrEnum

from index.injection import urls
from index.textnorm import pos_tagged, script_counts
from ragqa.types import CITATION_MARKER
from service.language import to_simplified


class AnswerKind(StrEnum):
    """What a question's answer must state."""

    QUANTITY = "quantity"
    TIME = "time"
    PLACE = "place"


def _question_word(word: str) -> str:
    """`word` asking (when was…, where did…, when and where is…, where to…), not as a
    conjunction or a relative (when the forum opened, who spoke; the hall where he spoke)."""
    return (
        rf"\b{word}\s+(?:and\s+\w+\s+)?(?:did|was|were|is|are|will|does|do|has|have|had"
        r"|would|should|can|could|to)\b"
    )


_ASKS = {
    AnswerKind.QUANTITY: re.compile(
        r"多少|(?<!哪)[几幾](?:[个個位家名项項场場次届屆年天人篇所条條种種件岁歲分元例]|十|百|千|万|萬)"
        # 多大 only before a measure: 多大面积 asks a figure, 多大帮助 does not.
        r"|多久|多[长長]时间|多[长長]時間|多大(?:面积|面積|规模|規模|年纪|年紀|年龄|年齡|岁数|歲數|金额|金額)"
        r"|\bhow\s+(?:many|much|long|old)\b|\bnumber\s+of\b"
        r"|\bwhat\s+(?:percentage|proportion|share)\b",
        re.IGNORECASE,
    ),
    AnswerKind.TIME: re.compile(
        r"何时|何時|什么时候|什麼時候|何年|哪[一]?[天年月日]|哪个月|哪個月|[几幾](?:月|号|號|日|点|點)"
        rf"|{_question_word('when')}"
        # what date, which years, what were the dates of…
        r"|\b(?:what|which)\s+(?:(?:is|was|are|were)\s+the\s+)?(?:date|time|year|day|month|week)s?\b",
        re.IGNORECASE,
    ),
    AnswerKind.PLACE: re.compile(
        r"哪里|哪裡|哪儿|哪兒|在哪|何处|何處|何地|什么地方|什麼地方"
        r"|哪[个個座所家间間些]?(?:城市|地方|地点|地點|省|国家|國家|会场|會場|酒店|医院|醫院|大学|大學|场馆|場館)"
        rf"|{_question_word('where')}|\b(?:what|which)\s+(?:city|town|country|province|venue|place|location|hospital"
        r"|university|hotel)\b",
        re.IGNORECASE,
    ),
}

_NUMERALS = "一二三四五六七八九十两兩百千万萬亿億"
# A Chinese cardinal: numerals (or 数/几 before a magnitude) followed by a measure word; an
# ordinal (第一名) or a numeral inside a word (一起, 一流) is not a quantity.
_ZH_QUANTITY = re.compile(
    rf"(?<![第{_NUMERALS}])(?:[数數几幾]|[{_NUMERALS}])*[{_NUMERALS}](?:余|餘|多)?"
    r"(?:[个個位名家项項人次届屆篇所场場件种種条條岁歲年天分元期批台臺座例份张張本部支间間]|小时|小時)"
)
_DIGITS = re.compile(r"(?<!第)(?<!第 )\d+(?:[.,]\d+)*")
_YEAR = re.compile(r"(?:19|20)\d{2}\s*年")
_EN_NUMBER = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen"
    r"|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy"
    r"|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?)\b",
    re.IGNORECASE,
)
_ZH_TIME = re.compile(
    rf"[{_NUMERALS}〇零]+[年月日号號点點时時]|上午|下午|中午|晚上|早上|凌晨|今天|昨天|明天|今年|去年|明年"
    r"|日前|近日|月初|月底|月中|年初|年底|春[季天]|夏[季天]|秋[季天]|冬[季天]|周[一二三四五六日末]"
    r"|星期[一二三四五六日天]"
)
_EN_TIME = re.compile(
    r"\b(?:january|february|march|april|may|june|july|august|september|october|november"
    r"|december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|morning|afternoon"
    r"|evening|noon|midnight|today|yesterday|tomorrow|spring|summer|autumn|winter)s?\b",
    re.IGNORECASE,
)
# A question asking which city, province or country: an institution ("…中心", "…医院") does
# not answer it, a geographic name does.
_ASKS_REGION = re.compile(
    r"哪[个個座些]?(?:城市|省|国家|國家)|\b(?:what|which)\s+(?:city|town|country|province)\b",
    re.IGNORECASE,
)
_ZH_REGION_SUFFIX = re.compile(r"(?:市|省|县|区|州|镇)$")  # matched on simplified text
_ZH_PLACE_SUFFIX = re.compile(
    r"(?:市|省|县|区|镇|村|州|路|街|医院|大学|学院|中心|酒店|宾馆|饭店|会场|礼堂|场馆|大厦|广场|厅|楼|馆|基地|园)$"
)
# jieba's tags of the words a place name is made of: nouns, place and organisation names,
# attributes, abbreviations, Latin words (not persons' names, not verbs).
_NAME_TAGS = frozenset({"n", "nz", "ns", "nt", "b", "j", "eng"})
_CAPITALISED = re.compile(r"\b[A-Z][\w'’-]*")


_CALENDAR = frozenset(
    (
        *("january", "february", "march", "april", "may", "june", "july", "august"),
        *("september", "october", "november", "december"),
        *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    )
)


def asked_kinds(question: str) -> frozenset[AnswerKind]:
    """The kinds of answer `question` asks for; empty when it asks for none of them."""
    return frozenset(kind for kind, asks in _ASKS.items() if asks.search(question))


def answers_kind(question: str, answer: str) -> bool:
    """Whether `answer` states one of the kinds `question` asks for, beyond what the question
    itself says; always true for a question asking none of them."""
    kinds = asked_kinds(question)
    return not kinds or any(_stated(kind, answer) - _stated(kind, question) for kind in kinds)


def states_every_kind(question: str, text: str) -> bool:
    """Whether `text` states every kind `question` asks for (a time and a place for "when and
    where"), beyond what the question says, and, asked which city or country, a geographic
    name; `answers_kind` needs only one, and any place."""
    if _ASKS_REGION.search(question) and not _regions(text) - _regions(question):
        return False
    return all(_stated(kind, text) - _stated(kind, question) for kind in asked_kinds(question))


def _stated(kind: AnswerKind, text: str) -> set[str]:
    """The expressions of `kind` in `text`, folded so the question's and the answer's compare."""
    text = to_simplified(CITATION_MARKER.sub(" ", text))
    if kind is AnswerKind.QUANTITY:
        plain = _YEAR.sub(" ", text)
        found = {m.replace(",", "") for m in _DIGITS.findall(plain)}
        found |= set(_ZH_QUANTITY.findall(plain))
        return found | {m.lower() for m in _EN_NUMBER.findall(plain)}
    if kind is AnswerKind.TIME:
        found = set(re.findall(r"\d+", text)) | set(_ZH_TIME.findall(text))
        found |= {word for word, flag in pos_tagged(text) if flag == "t"}
        return found | {m.lower() for m in _EN_TIME.findall(text)}
    return _places(text)


def capitalised_names(text: str) -> set[str]:
    """Capitalised words of English text that do not open a sentence, lower-cased: the names
    it holds (of places, institutions, people)."""
    found = set()
    for match in _CAPITALISED.finditer(text):
        before = text[: match.start()].rstrip()
        if before and before[-1] not in ".!?":
            found.add(match.group().lower())
    return found


def _places(text: str) -> set[str]:
    """Place and institution names: jieba's place and organisation tags and words ending like
    a place (…市, …医院, …酒店) in Chinese; in English, capitalised words that do not open a
    sentence (and any name left in Chinese), months and weekdays aside; and web addresses,
    where things are done online."""
    found = {link.lower() for link in urls(text)}
    cjk, latin = script_counts(text)
    if latin > cjk:  # "November" and "Monday" are capitalised, but no place
        found |= capitalised_names(text) - _CALENDAR
    if cjk:
        tagged = pos_tagged(text)
        for i, (word, flag) in enumerate(tagged):
            if flag in ("ns", "nt"):
                found.add(word)
            elif len(word) >= 2 and _ZH_PLACE_SUFFIX.search(word):
                # The name the suffix ends: 电子科技 + 大学, not 大学 alone.
                begin = i
                while begin > max(0, i - 4) and tagged[begin - 1][1] in _NAME_TAGS:
                    begin -= 1
                found.add("".join(w for w, _ in tagged[begin : i + 1]))
    return found


def _regions(text: str) -> set[str]:
    """Geographic names: in Chinese, jieba's place names and words ending like one (…市,
    …省); in English, as `_places` (capitalised names tell no city from an institution)."""
    text = to_simplified(CITATION_MARKER.sub(" ", text))
    cjk, latin = script_counts(text)
    if latin > cjk:
        return _places(text)
    found = set()
    for word, flag in pos_tagged(text):
        if flag == "ns" or (len(word) >= 2 and _ZH_REGION_SUFFIX.search(word)):
            # 四川省 and 四川 are one province: the question's is not stated again.
            found.add(_ZH_REGION_SUFFIX.sub("", word) if len(word) > 2 else word)
    return found
