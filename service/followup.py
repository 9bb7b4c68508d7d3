"""Whether a question leans on the conversation for its subject, and so how to search it.

A question that refers back ("Who chaired it?", "那次会议…") is a follow-up, and so is an
elliptical one, naming nothing of its own ("开幕式是谁主持的？" after a question about one
conference: searched over everything it finds every event's opening ceremony). A follow-up
is searched within the subject of the last question that named one (`service.retrieval`).
An elliptical one is still judged relevant on its own, and a question that names its own
subject is searched and judged alone, so an earlier on-topic turn cannot make an off-topic
question ("What is the capital of France?", "今天天气怎么样？") look answerable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from index.textnorm import pos_tagged, to_simplified

_NOUNS = (
    r"one|ones|event|meeting|conference|forum|summit|session|year|day|time|talk|speech|lecture"
    r"|report|award|prize|competition|contest|project|person|man|woman|professor|school"
    r"|university|hospital|company|organi[sz]ation|society|centre|center|city|place|article"
    r"|document|study|paper|team|group|program|programme|edition|plan"
)
_ENGLISH = re.compile(
    r"^\s*(?:and|also|but|so|then|what about|how about|same)\b"  # continues the last turn
    r"|\b(?:it|its|itself|he|him|his|himself|she|her|hers|herself|they|them|their|theirs"
    r"|former|latter|aforementioned)\b"
    rf"|\b(?:that|this|those|these)\s+(?:{_NOUNS})\b"  # "that meeting", not "a list that…"
    r"|\b(?:of|in|at|from|about|for|by|on|to|after|before|during|with)\s+(?:that|this)\b"
    r"|\b(?:that|this)\s*[?.!]*\s*$"  # "… the first edition of that?"
    r"|\bthe same\b|\bthere\s*[?.!]*\s*$",
    re.IGNORECASE,
)
# Pronouns and demonstratives; 该 not in 应该, 此 not in 因此/如此/彼此, 其 not in 其他/尤其.
_CHINESE = re.compile(
    r"(?<!其)[他她它]|(?<!应)该|(?<![因如彼])此|(?<!尤)其(?!他|它|余|次)|[那这]|上述|前者|后者|当时|同时"
    r"|^\s*(?:还|另外|那么|然后|而且|并且)|呢\s*[？?]?\s*$"
)


# What names a subject: jieba's proper-noun tags (person, place, organisation, other proper
# noun, Latin word), a number or an ordinal (2023, 第十三届), a quoted title.
_PROPER = frozenset({"nr", "nrt", "nrfg", "ns", "nt", "nz", "eng"})
_NUMBER = re.compile(r"[0-9０-９第]")
_QUOTED = re.compile(r"[“”「」『』《》\"]|(?<![A-Za-z])(?:'[^']+'|‘[^’]+’)(?![A-Za-z])")
# A capital or a digit within a sentence, not at its start.
_NAME = re.compile(r"(?<=[^\s.?!:;])\s+(?!I\b)[A-Z0-9]")
# Chinese questions with no name jieba recognises still name their subject with enough nouns
# ("核医学技术与护理专场的主持人是谁？"); at most this many leave it unnamed ("开幕式是谁主持的？").
_FEW_NOUNS = 2


def elliptical(question: str) -> bool:
    """Naming nothing of its own: no proper name, number or quoted title ("Who presided over
    the opening ceremony?"), and in Chinese at most a couple of nouns. After a conversation,
    its subject is the one just talked about."""
    if _QUOTED.search(question) or _NAME.search(question.strip()):
        return False
    simplified = to_simplified(question)
    if not re.search(r"[\u4e00-\u9fff]", simplified):
        return not _NUMBER.search(question)
    nouns = 0
    for word, flag in pos_tagged(simplified):
        if flag in _PROPER or (flag in ("m", "t") and _NUMBER.search(word)):
            return False
        nouns += flag.startswith("n") or flag == "vn"
    return nouns <= _FEW_NOUNS


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """How to search a question: alone, or within the subject of the conversation (the
    document the `subject` question, the last to name its own, finds first), its relevance
    judged on the question alone (`judge_alone`, an elliptical question) or on whether the
    subject question found anything."""

    subject: str | None = None
    judge_alone: bool = False


def refers_back(question: str) -> bool:
    """The question leans on an earlier turn for its subject: a pronoun, a demonstrative
    ("that meeting", 那次), or an opening that continues the last turn ("And who…", "…呢？")."""
    return bool(_ENGLISH.search(question) or _CHINESE.search(to_simplified(question)))


def search_plan(question: str, history: Sequence[dict[str, str]] | None) -> SearchPlan:
    """A question that refers back, or an elliptical one, is a follow-up: it is searched
    within the subject of the user's last question that named its own (a follow-up of a
    follow-up keeps the first one's subject). Any other question is searched alone. The
    generator never sees the conversation: only the passages it chose, and the question."""
    earlier = [t["content"] for t in history or () if t.get("role") == "user"]
    if not earlier:
        return SearchPlan()
    naming = [q for q in earlier if not (refers_back(q) or elliptical(q))]
    subject = naming[-1] if naming else earlier[0]
    if refers_back(question):
        return SearchPlan(subject, judge_alone=False)
    if elliptical(question):
        return SearchPlan(subject, judge_alone=True)
    return SearchPlan()
