"""Chinese "respectively" lists unrolled in the passages the model reads.

News text pairs two lists with 分别: "董家鸿院士、吕毅副校长、孔繁圃主任分别作题为《甲》《乙》《丙》
的报告". The small model cannot align such lists (asked for 孔繁圃's report, it names the first
title), so the model reads the pairs spelled out: "董家鸿院士作题为《甲》的报告；吕毅副校长作题为
《乙》的报告；…". Only lists of equal length whose second list is of quoted titles or names are
unrolled; the stored text, quotes and offsets stay the document's own.
"""

from __future__ import annotations

import re

# The first list: items joined by 、 (the last maybe by 和/及/与), after the sentence's last
# comma; then 分别, a few words of verb, the second list of quoted items, the rest of the clause.
_PAIRED = re.compile(
    r"(?P<subjects>[^，,。；;：:！？!?\n]+?、[^，,。；;：:！？!?\n]+?)"
    r"(?P<respectively>分别|分別)"
    r"(?P<verb>[^《“「，,。；;、\n]{0,8})"
    r"(?P<objects>(?:[《“「][^》”」\n]{1,80}[》”」][、，,和及与與]?\s*){2,})"
    r"(?P<rest>[^。；;！？!?\n]*)"
)
_ITEM = re.compile(r"[《“「][^》”」\n]{1,80}[》”」]")
_LAST_JOIN = re.compile(r"(?<=.)(?:和|及|与|與)(?=.)")


def _subjects(listed: str, wanted: int) -> list[str] | None:
    """The first list's items, when there are `wanted` of them; None otherwise."""
    items = listed.split("、")
    if len(items) == wanted - 1:
        last = _LAST_JOIN.split(items[-1])
        if len(last) == 2:
            items[-1:] = last
    return items if len(items) == wanted and all(i.strip() for i in items) else None


def _unrolled(match: re.Match[str]) -> str:
    objects = _ITEM.findall(match.group("objects"))
    subjects = _subjects(match.group("subjects"), len(objects))
    if subjects is None:
        return match.group(0)
    verb, rest = match.group("verb"), match.group("rest")
    return "；".join(f"{s}{verb}{o}{rest}" for s, o in zip(subjects, objects, strict=True))


def unroll_respectively(text: str) -> str:
    """`text` with each "A、B分别…《1》《2》…" clause written out as "A…《1》…；B…《2》…"."""
    if "分别" not in text and "分別" not in text:
        return text
    return _PAIRED.sub(_unrolled, text)


__all__ = ["unroll_respectively"]
