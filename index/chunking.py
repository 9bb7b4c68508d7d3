"""Sentence splitting and sentence-packing chunker.

Chunks are exact slices of the document text (`doc.text[chunk.start:chunk.end] == chunk.text`), so
a citation can always point back into the stored document. Sizes are measured with the
embedder's own tokenizer in production (`count_tokens`), characters in the unit tests.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise

from index.documents import Chunk, Document
from index.injection import flagged_in_range

Span = tuple[int, int]
TokenCounter = Callable[[str], int]

_CLOSERS = "”’」』）)》】〕\"'"
# A sentence ends after a Chinese terminator, after ".!?" that is followed by a space or the end,
# or at a line break (the cleaned text keeps one paragraph per line). Closing quotes and brackets
# stay with the sentence they close.
_SENTENCE_END = re.compile(
    rf"[。！？；]+[{_CLOSERS}]*|(?P<latin>[.!?]+)[{_CLOSERS}]*(?=\s|$)|\n",
)
# Words after which "." is not a full stop: titles, months, common Latin abbreviations.
_ABBREVIATIONS = frozenset(
    {"prof", "dr", "mr", "mrs", "ms", "st", "jr", "sr", "vs", "etc", "al", "fig", "no", "vol"}
    | {"pp", "ed", "eds", "dept", "univ", "inc", "ltd", "co", "corp", "approx", "est", "cf"}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
    | {"e.g", "i.e"}
)
_WORD_BEFORE_DOT = re.compile(r"([A-Za-z][A-Za-z.]*)$")
_INITIALS = re.compile(r"(?:[A-Za-z]\.)*[A-Za-z]")  # "U.S", "e.g", "J"
_CLAUSE_BREAK = re.compile(r"[，、,;：:]+[" + _CLOSERS + r"]*")


def _strip(text: str, start: int, end: int) -> Span | None:
    """`start:end` without edge whitespace, or None when nothing but whitespace is left."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return (start, end) if start < end else None


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the "." at `dot` closes an abbreviation such as ``Prof.``, ``Dec.``, ``U.S.``."""
    word = _WORD_BEFORE_DOT.search(text[max(0, dot - 20) : dot])
    if word is None:
        return False
    token = word.group(1)
    return (
        token.lower() in _ABBREVIATIONS
        or ("." in token and _INITIALS.fullmatch(token) is not None)
        or (len(token) == 1 and token.isupper())
    )


def _spans_between(text: str, start: int, end: int, cuts: list[int]) -> list[Span]:
    """The stripped, non-empty spans between consecutive cut points in `start:end`."""
    edges = [start, *cuts, end]
    spans = (_strip(text, a, b) for a, b in pairwise(edges))
    return [span for span in spans if span is not None]


def split_sentences(text: str) -> list[Span]:
    """(start, end) of every sentence, in order, edge whitespace excluded.

    Ends: ``。！？；``, ``.!?`` before a space or the end, and line breaks. ``Prof. Li``,
    ``Dec. 22``, ``U.S.`` and ``3.5`` do not end a sentence.
    """
    cuts: list[int] = []
    for match in _SENTENCE_END.finditer(text):
        latin = match.group("latin")
        if latin == "." and _is_abbreviation(text, match.start()):
            continue
        cuts.append(match.end())
    return _spans_between(text, 0, len(text), cuts)


def split_units(text: str, max_chars: int) -> list[Span]:
    """Sentences, with each longer than `max_chars` cut into clause groups that fit: the units
    an answer's evidence is chosen from (a scraped Chinese sentence listing every guest can
    run to hundreds of characters)."""
    units: list[Span] = []
    for span in split_sentences(text):
        if span[1] - span[0] > max_chars:
            units.extend(_split_long_sentence(text, span, max_chars, len))
        else:
            units.append(span)
    return units


def _fits(text: str, span: Span, max_tokens: int, count_tokens: TokenCounter) -> bool:
    return count_tokens(text[span[0] : span[1]]) <= max_tokens


def _hard_cut(text: str, span: Span, max_tokens: int, count_tokens: TokenCounter) -> list[Span]:
    """Cut a clause with no usable marks into the longest prefixes that fit (at a space if any)."""
    pieces: list[Span] = []
    start, end = span
    while start < end:
        low, high = start + 1, end  # find the longest fitting prefix; one character always goes
        while low < high:
            middle = (low + high + 1) // 2
            if count_tokens(text[start:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        cut = low
        if cut < end:
            space = text.rfind(" ", start + 1, cut)
            cut = space if space > start else cut
        piece = _strip(text, start, cut)
        if piece is not None:
            pieces.append(piece)
        start = cut
    return pieces


def _pack(text: str, units: list[Span], max_tokens: int, count_tokens: TokenCounter) -> list[Span]:
    """Greedily merge consecutive units while the merged slice still fits."""
    packed: list[Span] = []
    for unit in units:
        if packed and _fits(text, (packed[-1][0], unit[1]), max_tokens, count_tokens):
            packed[-1] = (packed[-1][0], unit[1])
        else:
            packed.append(unit)
    return packed


def _split_long_sentence(
    text: str, sentence: Span, max_tokens: int, count_tokens: TokenCounter
) -> list[Span]:
    """Pieces of an over-long sentence: whole clauses packed, a clause too long hard-cut."""
    start, end = sentence
    cuts = [m.end() for m in _CLAUSE_BREAK.finditer(text, start, end)]
    clauses = _spans_between(text, start, end, [c for c in cuts if c < end])
    fitting: list[Span] = []
    for clause in clauses:
        if _fits(text, clause, max_tokens, count_tokens):
            fitting.append(clause)
        else:
            fitting.extend(_hard_cut(text, clause, max_tokens, count_tokens))
    return _pack(text, fitting, max_tokens, count_tokens)


def chunk_document(
    doc: Document,
    *,
    max_tokens: int,
    overlap_sentences: int,
    count_tokens: TokenCounter = len,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most `max_tokens`, repeating `overlap_sentences`.

    Each chunk after the first starts with up to `overlap_sentences` sentences of the previous
    one (fewer when they would push the first new sentence past the limit). A sentence longer
    than the limit is split at clause marks, or cut, and its pieces count as sentences.
    """
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if overlap_sentences < 0:
        raise ValueError(f"overlap_sentences must be 0 or more, got {overlap_sentences}")
    text = doc.text
    units: list[Span] = []
    for sentence in split_sentences(text):
        if _fits(text, sentence, max_tokens, count_tokens):
            units.append(sentence)
        else:
            units.extend(_split_long_sentence(text, sentence, max_tokens, count_tokens))

    groups: list[Span] = []  # (first unit, one past the last unit) of each chunk
    first, next_new = 0, 0
    while next_new < len(units):
        while first < next_new and not _fits(
            text, (units[first][0], units[next_new][1]), max_tokens, count_tokens
        ):
            first += 1
        last = next_new + 1
        while last < len(units) and _fits(
            text, (units[first][0], units[last][1]), max_tokens, count_tokens
        ):
            last += 1
        groups.append((first, last))
        first, next_new = max(last - overlap_sentences, first + 1), last

    return [
        Chunk(
            chunk_id=f"{doc.doc_id}#{n}",
            doc_id=doc.doc_id,
            n=n,
            text=text[units[a][0] : units[b - 1][1]],
            start=units[a][0],
            end=units[b - 1][1],
            title=doc.meta.title,
            flagged=flagged_in_range(text, units[a][0], units[b - 1][1]),
        )
        for n, (a, b) in enumerate(groups)
    ]
