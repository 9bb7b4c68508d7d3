"""The titles an answer gives people, checked against the passages read.

Chinese reports name people with their titles ("中华医学会核医学分会主任委员汪静教授", "唐勇林
是…大数据办公室主任"), often a list of them in one sentence, and a small model asked who held a
post copies a neighbouring name with another's title ("中华医学会核医学分会主任委员李亚明", where
the passage gives 李亚明 中国核学会核医学分会理事长). A sentence that gives someone a title,
before the name or after 是/为/担任, is kept only when a passage read gives that person the same
title word of the same rank (副主任委员 is not 主任委员) for an organisation whose name shares at
least half its character pairs. Chinese text only; names are found by the name tagger.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

from index.names import person_names
from ragqa.types import CITATION_MARKER
from service.language import to_simplified

if TYPE_CHECKING:
    from service.passages import Passage

_POSTS = (
    "主任委员", "董事长", "总经理", "理事长", "秘书长", "会长", "主席", "院长", "校长", "书记",
    "主任", "所长", "部长", "司长", "局长", "处长", "总裁", "主编", "组长",
)  # fmt: skip
# A post with its rank: 副主任委员 and 候任会长 are other posts than 主任委员 and 会长.
_TITLE = re.compile(r"(?:常务副|副|候任|前任|名誉|执行|党委)?(?:" + "|".join(_POSTS) + ")")
_TITLE_AT_END = re.compile(f"(?:{_TITLE.pattern})$")
_BREAK = '，。；：,;:！？!?\n（）()“”"《》 '  # what ends the run of titles before a name
_HONORIFIC = re.compile(r"(?:教授|院士|博士|老师|先生|女士|同志)$")
_AFTER_NAME = re.compile(
    rf"(?:教授|院士|博士|老师|先生|女士|同志)?[，,]?(?:是|为|担任|任|系|时任|现任)([^{_BREAK}]{{1,40}})"
)
_NOT_ORGANISATION = re.compile(r"是|为|由|了|和|与|及|在")  # a verb or joint before the title


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
    """Every title `text` gives one of `names`: written before the name, or after 是/为/担任."""
    found = []
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


def _pairs(text: str) -> set[str]:
    return {text[i : i + 2] for i in range(len(text) - 1)}


def _same(given: Role, stated: Role) -> bool:
    """The same title: same word and rank, organisations sharing half the pairs of the shorter
    name (one may be cut short, "核医学分会" for "中华医学会核医学分会"), or either unnamed."""
    if given.title != stated.title:
        return False
    mine, theirs = _pairs(given.organisation), _pairs(stated.organisation)
    return not mine or not theirs or len(mine & theirs) >= min(len(mine), len(theirs)) / 2


def roles_unsupported(claim: str, passages: Sequence[Passage]) -> list[Role]:
    """The titles `claim` gives people that no passage read gives them."""
    said = to_simplified(CITATION_MARKER.sub("", claim))
    names = [to_simplified(n) for n, _ in person_names(said)]
    given = _roles(said, names)
    if not given:
        return []
    stated = []
    for passage in passages:
        text = to_simplified(passage.checked_text)
        stated += _roles(text, [to_simplified(n) for n, _ in person_names(text)])
    return [g for g in given if not any(s.person == g.person and _same(g, s) for s in stated)]


__all__ = ["Role", "roles_unsupported"]
