"""Whether a question refers back to the conversation ("Who chaired it?", "那次会议…").

Only such a question is searched together with the previous one: a question that names its
own subject is searched, and judged relevant or not, on its own, so an earlier on-topic turn
cannot make an off-topic question ("What is the capital of France?") look answerable.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from service.language import to_simplified

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


def refers_back(question: str) -> bool:
    """The question leans on an earlier turn for its subject: a pronoun, a demonstrative
    ("that meeting", 那次), or an opening that continues the last turn ("And who…", "…呢？")."""
    return bool(_ENGLISH.search(question) or _CHINESE.search(to_simplified(question)))


def retrieval_query(question: str, history: Sequence[dict[str, str]] | None) -> str:
    """What to search for: a question that refers back is searched together with the user's
    previous question, which names what "it" or "that" is; any other question on its own.
    The generator still sees the whole conversation."""
    earlier = [t["content"] for t in history or () if t.get("role") == "user"]
    if earlier and refers_back(question):
        return f"{earlier[-1]}\n{question}"
    return question
