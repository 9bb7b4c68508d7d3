"""The titles an answer gives people, checked against the passages read.

Chinese reports name people with their titles ("中华医学会核医学分会主任委员汪静教授", "唐勇林
是…大数据办公室主任"), often a list of them in one sentence, and a small model asked who held a
post copies a neighbouring name with another's title ("中华医学会核医学分会主任委员李亚明", where
the passage gives 李亚明 中国核学会核医学分会理事长). A sentence that gives someone a title,
before the name, after 是/为/担任, or before 是 and the names holding it, is kept only when a
passage read gives that person the same post of the same rank (副主任委员 is not 主任委员; 党委书记
is a 书记) for an organisation whose name shares at least half its character pairs. Names are
found by the name tagger, and as the passages name them where it misses one in context.

An English sentence giving someone a title ("Prof. Xie Jun, the President of our school", "the
president ... was Shi Hongcheng (石洪成)") is held to the title's kind and rank alone, since
the organisation is translated: when the Chinese passages read give that person titles and
none of the English title's kind (president: 会长, 校长, 主任委员 …) has its rank (vice-,
-elect, former), the sentence promoted or demoted them (解军 is 副校长). A person an English
passage read names is not judged: it states their titles in English.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from index.names import person_names, romanise_name
from index.textnorm import script_counts
from ragqa.types import CITATION_MARKER
from service.language import to_simplified

if TYPE_CHECKING:
    from service.passages import Passage

_POSTS = (
    "主任委员", "董事长", "总经理", "理事长", "秘书长", "会长", "主席", "院长", "校长", "书记",
    "主任", "所长", "部长", "司长", "局长", "处长", "总裁", "主编", "组长",
)  # fmt: skip
# A post with its rank: 副主任委员 and 候任会长 are other posts than 主任委员 and 会长.
_BEFORE_POST = "常务副|副|候任|前任|名誉|执行|党委"  # a rank, or the body a post is of
_TITLE = re.compile(f"(?:{_BEFORE_POST})?(?:{'|'.join(_POSTS)})")
_POST = re.compile(f"^(?:{_BEFORE_POST})")
_TITLE_AT_END = re.compile(f"(?:{_TITLE.pattern})$")
_BREAK = '，。；：,;:！？!?\n（）()“”"《》 '  # what ends the run of titles before a name
_HONORIFICS = "教授|院士|博士|老师|先生|女士|同志"
_HONORIFIC = re.compile(f"(?:{_HONORIFICS})$")
_AFTER_NAME = re.compile(
    rf"(?:{_HONORIFICS})?[，,]?(?:是|为|担任|任|系|时任|现任)([^{_BREAK}]{{1,40}})"
)
# A title, then who holds it: "主任委员分别是李思进教授和解军教授".
_TITLE_IS = re.compile(rf"({_TITLE.pattern})(?:分别|依次|均|都)?(?:是|为)([^{_BREAK}]{{1,60}})")
_NOT_ORGANISATION = re.compile(r"是|为|由|了|和|与|及|在")  # a verb or joint before the title


# English titles, by the Chinese posts each translates; a rank word before or after one.
_KINDS = {
    "president": {"会长", "理事长", "主席", "校长", "院长", "主任委员", "总裁", "董事长"},
    "chair": {"主任委员", "主席", "理事长", "董事长", "会长", "主任"},
    "director": {"主任", "所长", "司长", "局长", "处长", "院长", "主任委员", "部长"},
    "dean": {"院长"},
    "secretary-general": {"秘书长"},
    "secretary": {"书记"},
}
_EN_TITLE = re.compile(
    r"\b(?P<rank>(?:(?:executive|honorary|former)\s+)?(?:vice|deputy)[- ]\s*|(?:executive|honorary"
    r"|former|incoming)\s+)?(?:party\s+)?(?P<kind>president|chair(?:man|woman|person)?|director"
    r"|dean|secretary-general|secretary)(?P<elect>-elect)?\b",
    re.IGNORECASE,
)
_ORDINAL = (
    r"(?:(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth"
    r"|\d+(?:st|nd|rd|th))\s+)"
)
# Between a name and the title it is given ("Li Sijin (李思进), president of", "Tang Yonglin is
# the director of"), and between a title and its holder ("the president of … was Dr. Wang").
_NAME_THEN_TITLE = re.compile(
    r"\s*,?\s*(?:who\s+(?:is|was)\s+|(?:is|was|as|serves\s+as|served\s+as)\s+)?"
    rf"(?:the\s+|a\s+|an\s+)?{_ORDINAL}?(?:committee\s+)?$",
    re.IGNORECASE,
)
_TITLE_THEN_NAME = re.compile(
    r"^(?:\s+of\s+[^.;!?,]*?)?\s*(?:,|:|\bis\b|\bwas\b)?\s*(?:(?:Dr|Prof)\.?\s*|Professor\s+)?$",
    re.IGNORECASE,
)


class Role(NamedTuple):
    """A title as given to someone: 李亚明, 中华医学会核医学分会, 主任委员."""

    person: str
    organisation: str
    title: str


def _titles_before(text: str, at: int, names: Sequence[str]) -> list[str]:
    """The 、-joined items right before position `at` (a name), back to a break or to the
    item of the person before ("…汪静教授、副主任委员石洪成": only 副主任委员)."""
    start = at
    while start > 0 and text[start - 1] not in _BREAK:
        start -= 1
    kept: list[str] = []
    for item in reversed(text[start:at].split("、")):
        if kept and (_HONORIFIC.search(item) or any(n in item for n in names)):
            break
        kept.append(item)
    return kept


def _ending_title(item: str) -> tuple[str, str] | None:
    """(organisation, title) of an item that ends with a title, else None."""
    title = _TITLE_AT_END.search(item)
    if title is None:
        return None
    return _NOT_ORGANISATION.split(item[: title.start()])[-1], title.group()


def _roles(text: str, names: Sequence[str]) -> list[Role]:
    """Every title `text` gives one of `names`: written before the name, after 是/为/担任, or
    before 是 and the names holding it."""
    found = []
    for held in _TITLE_IS.finditer(text):
        closest = next(iter(_titles_before(text, held.start(), names)), "")
        organisation = _NOT_ORGANISATION.split(closest)[-1]
        found += [Role(n, organisation, held.group(1)) for n in names if n in held.group(2)]
    for name in names:
        for match in re.finditer(re.escape(name), text):
            for item in _titles_before(text, match.start(), names):
                if (ending := _ending_title(item)) is not None:
                    found.append(Role(name, *ending))
            after = _AFTER_NAME.match(text, match.end())
            if after is not None and (title := _TITLE.search(after.group(1))) is not None:
                organisation = after.group(1)[: title.start()].split("、")[-1]
                found.append(Role(name, organisation, title.group()))
    return found


def _people(text: str) -> list[str]:
    return [to_simplified(name) for name, _ in person_names(text)]


@lru_cache(maxsize=32)
def _stated(texts: tuple[str, ...]) -> tuple[Role, ...]:
    """Every title the (simplified) passage texts give someone. Cached: a streamed answer is
    checked sentence by sentence against the same passages."""
    return tuple(role for text in texts for role in _roles(text, _people(text)))


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _same(given: Role, stated: Role) -> bool:
    """The same title: same post and rank (党委书记 is a 书记), organisations sharing half the
    pairs of the shorter name (one cut short, "核医学分会" for "中华医学会核医学分会"), or
    either unnamed."""
    if _rank(given.title) != _rank(stated.title) or _post(given.title) != _post(stated.title):
        return False
    mine, theirs = _pairs(given.organisation), _pairs(stated.organisation)
    return not mine or not theirs or len(mine & theirs) >= min(len(mine), len(theirs)) / 2


def _post(title: str) -> str:
    """A Chinese title without its rank or body: 书记 for 党委书记, 主任委员 for 副主任委员."""
    return _POST.sub("", title)


def _rank(title: str) -> str:
    """A Chinese title's rank: 副 (常务副 too), 候任, 前任, 名誉, or '' for the post itself."""
    return next((rank for rank in ("副", "候任", "前任", "名誉") if rank in title), "")


def _english_rank(title: re.Match[str]) -> str:
    words = (title.group("rank") or "").lower()
    if "vice" in words or "deputy" in words:
        return "副"
    if title.group("elect") or "incoming" in words:
        return "候任"
    return "前任" if "former" in words else "名誉" if "honorary" in words else ""


def _english_kind(title: re.Match[str]) -> str:
    kind = title.group("kind").lower()
    return "chair" if kind.startswith("chair") else kind


# Chairing a session, as a verb: what "主持人是谁" and "who presided over" ask.
_CHAIRED = re.compile(r"主持|\b(?:presid|chair|moderat)(?:ed|es|ing)\b", re.IGNORECASE)


def posts_named(text: str) -> set[tuple[str, str]]:
    """The posts `text` names, as (post, rank) in Chinese terms, so that a question and a
    sentence in either language compare: 党委书记 and "Party secretary" are (书记, ''),
    候任理事长 is (理事长, 候任), an English title is each post it may translate, and chairing
    a session (主持, "presided over") is (主持, '')."""
    simplified = to_simplified(text)
    found = {(_post(m[0]), _rank(m[0])) for m in _TITLE.finditer(simplified)}
    for title in _EN_TITLE.finditer(text):
        rank = _english_rank(title)
        found |= {(post, rank) for post in _KINDS[_english_kind(title)]}
    return found | ({("主持", "")} if _CHAIRED.search(simplified) else set())


def _mentions(text: str, person: str) -> list[tuple[int, int]]:
    """Where English `text` names `person` (Chinese characters): in them, or in pinyin with or
    without them after it in brackets."""
    pinyin = re.escape(romanise_name(person))
    pattern = rf"{pinyin}(?:\s*[(（]\s*{person}\s*[)）])?|{person}"
    return [m.span() for m in re.finditer(pattern, text, re.IGNORECASE)]


def _english_roles(said: str, people: Sequence[str]) -> list[tuple[str, str, str]]:
    """(person, kind, rank) of each title English `said` gives one of `people`: right after
    their name, or right before it with only its organisation between."""
    mentions = [(span, person) for person in people for span in _mentions(said, person)]
    found = []
    for title in _EN_TITLE.finditer(said):
        after = [
            (start, person)
            for (start, end), person in mentions
            if end <= title.start() and _NAME_THEN_TITLE.match(said[end : title.start()])
        ]
        later = sorted((start, person) for (start, _), person in mentions if start >= title.end())
        before = (
            later[:1] if later and _TITLE_THEN_NAME.match(said[title.end() : later[0][0]]) else []
        )
        for _, person in after + before:
            found.append((person, _english_kind(title), _english_rank(title)))
    return found


def _english_unsupported(said: str, texts: tuple[str, ...]) -> list[Role]:
    """The titles English `said` gives people whom the Chinese passage texts give titles, none
    of them of the English title's kind and rank."""
    stated = _stated(texts)
    unsupported = []
    for person, kind, rank in _english_roles(said, sorted({r.person for r in stated})):
        if any(romanise_name(person).lower() in t.lower() for t in texts):
            continue  # an English passage names them: it states their titles in English
        held = [r.title for r in stated if r.person == person]
        if not any(_post(t) in _KINDS[kind] and _rank(t) == rank for t in held):
            unsupported.append(Role(person, "", f"{rank}{kind}"))
    return unsupported


def roles_unsupported(claim: str, passages: Sequence[Passage]) -> list[Role]:
    """The titles `claim` gives people that no passage read gives them (in English, of
    another rank than the passages give them)."""
    said = to_simplified(CITATION_MARKER.sub("", claim))
    texts = tuple(to_simplified(p.checked_text) for p in passages)
    cjk, latin = script_counts(said)
    if latin > cjk:
        return _english_unsupported(said, texts)
    stated = _stated(texts)
    # The tagger misses names in some contexts (和解军: 和解 "reconcile"); the passages' do not.
    people = dict.fromkeys([*_people(said), *(r.person for r in stated if r.person in said)])
    given = _roles(said, list(people))
    return [g for g in given if not any(s.person == g.person and _same(g, s) for s in stated)]


__all__ = ["Role", "posts_named", "roles_unsupported"]
