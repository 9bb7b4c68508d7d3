"""The passage as answering sees it, built on the index's `Chunk` and never re-declared.

A `Chunk` (index/documents.py) is a passage of a document: its ids, title, text and offsets.
Retrieval scores it (`SearchHit`), the prompt numbers it (`Passage`), and an answer cites a
quote from it (`Citation`); each of these holds the one before and adds only what it knows,
so a passage's fields are declared once, in `Chunk`, from ingestion to the HTTP schemas.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from index.backend import SearchView
from index.documents import Chunk
from index.injection import flagged_sentences
from index.translations import Reading
from ragqa.errors import DocumentNotFound
from ragqa.types import PassageOrder
from service.document_view import view_url


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A retrieved chunk with its fused score and the scores that made it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    url: str | None = None  # where the document lives, when its metadata says so

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id

    @property
    def chunk_id(self) -> str:
        return self.chunk.chunk_id

    @property
    def title(self) -> str:
        return self.chunk.title

    @property
    def text(self) -> str:
        return self.chunk.text

    @property
    def start(self) -> int:
        return self.chunk.start

    @property
    def end(self) -> int:
        return self.chunk.end


@dataclass(frozen=True, slots=True)
class Passage:
    """A retrieved chunk as numbered in the prompt, with what the answer checks need."""

    n: int
    hit: SearchHit
    url: str | None = None  # the document view with this passage highlighted
    # Sentences screened as instructions, of this chunk and of its whole document (an answer
    # must not repeat a notice another chunk of the document holds).
    flagged: tuple[str, ...] = ()
    # Where the document states its title (the model reads the title with every passage, and
    # a headline often holds the fact): its text and offset there, or "" and -1.
    heading: str = ""
    heading_start: int = -1
    # The passage in the question's language, when the model reads it in translation (the
    # bilingual index); what is cited and quoted stays the original.
    reading: Reading | None = None

    @classmethod
    def of(
        cls,
        n: int,
        doc_id: str,
        chunk_id: str,
        title: str,
        text: str,
        start: int,
        end: int,
        score: float,
        url: str | None = None,
        flagged: tuple[str, ...] = (),
        heading: str = "",
        heading_start: int = -1,
    ) -> Passage:
        """A passage from its fields, as a served answer lists them (or a test writes them)."""
        number = chunk_id.rpartition("#")[2]
        chunk = Chunk(
            chunk_id=chunk_id,
            doc_id=doc_id,
            n=int(number) if number.isdigit() else 0,
            text=text,
            start=start,
            end=end,
            title=title,
        )
        return cls(n, SearchHit(chunk, score), url, tuple(flagged), heading, heading_start)

    @property
    def chunk(self) -> Chunk:
        return self.hit.chunk

    @property
    def doc_id(self) -> str:
        return self.hit.chunk.doc_id

    @property
    def chunk_id(self) -> str:
        return self.hit.chunk.chunk_id

    @property
    def title(self) -> str:
        return self.hit.chunk.title

    @property
    def text(self) -> str:
        return self.hit.chunk.text

    @property
    def start(self) -> int:
        return self.hit.chunk.start

    @property
    def end(self) -> int:
        return self.hit.chunk.end

    @property
    def score(self) -> float:
        return self.hit.score

    @property
    def read_title(self) -> str:
        """The title as the model reads it."""
        return self.reading.title if self.reading is not None else self.title

    @property
    def checked_text(self) -> str:
        """What an answer's claims may rest on: the text, and the translation the model read."""
        return f"{self.text}\n{self.reading.text}" if self.reading is not None else self.text


@dataclass(frozen=True, slots=True)
class Citation:
    """A passage the answer cites, numbered in order of first use, with a supporting quote."""

    n: int
    passage: Passage
    quote: str
    start: int  # the quote's offsets in the document's cleaned text
    end: int

    @property
    def doc_id(self) -> str:
        return self.passage.doc_id

    @property
    def chunk_id(self) -> str:
        return self.passage.chunk_id

    @property
    def title(self) -> str:
        return self.passage.title

    @property
    def score(self) -> float:
        return self.passage.score

    @property
    def url(self) -> str:
        """The document view with the quote highlighted."""
        return view_url(self.passage.doc_id, self.start, self.end)


def heading_span(document: str, title: str, within: int = 1000) -> tuple[int, int] | None:
    """Where the document states `title`: the run of its opening lines that are parts of the
    title (a headline and its subtitle often stand on lines of their own)."""
    key = re.sub(r"\s+", "", title)
    found: list[tuple[int, int]] = []
    for match in re.finditer(r"[^\n]+", document[:within]):
        line = re.sub(r"\s+", "", match.group())
        if len(line) >= 4 and line in key:
            found.append(match.span())
        elif line and found:
            break
    return (found[0][0], found[-1][1]) if found and key else None


def reading_order(hits: Sequence[SearchHit], order: PassageOrder = "ranked") -> list[SearchHit]:
    """The hits in the order the model reads them: `ranked` as retrieved, `best_last` reversed
    so the best sits next to the question, `document` each document's hits together in the
    document's own order, documents by their best hit."""
    if order == "ranked":
        return list(hits)
    if order == "best_last":
        return list(reversed(hits))
    if order == "document":
        rank = {doc_id: i for i, doc_id in reversed(list(enumerate(h.doc_id for h in hits)))}
        return sorted(hits, key=lambda h: (rank[h.doc_id], h.start))
    raise ValueError(f"unknown passage order {order!r}; valid: ranked, best_last, document")


def to_passages(
    hits: Sequence[SearchHit],
    snapshot: SearchView | None = None,
    read: Callable[[Chunk], Reading | None] | None = None,
) -> list[Passage]:
    """Hits numbered from 1. With the snapshot, each passage carries the flagged sentences of
    its whole document and where the document states its title; with `read`, the translation
    the model reads it in, if any."""

    @cache  # hits of one document share its text, flagged sentences and heading
    def document(doc_id: str, title: str) -> tuple[tuple[str, ...], str, int]:
        try:
            text = snapshot.document_text(doc_id) if snapshot is not None else ""
        except DocumentNotFound:  # deleted since it was retrieved
            text = ""
        span = heading_span(text, title) if text else None
        heading = text[span[0] : span[1]] if span else ""
        return flagged_sentences(text), heading, span[0] if span else -1

    def passage(n: int, hit: SearchHit) -> Passage:
        flagged, heading, heading_start = document(hit.doc_id, hit.title)
        return Passage(
            n=n,
            hit=hit,
            url=view_url(hit.doc_id, hit.start, hit.end),
            flagged=tuple(dict.fromkeys((*hit.chunk.flagged, *flagged))),
            heading=heading,
            heading_start=heading_start,
            reading=read(hit.chunk) if read is not None else None,
        )

    return [passage(i, h) for i, h in enumerate(hits, start=1)]
