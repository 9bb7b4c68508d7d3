"""The records that flow through ingestion: a cleaned document and its chunks."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """Metadata found in the document itself (any field may be unknown)."""

    title: str = ""
    date: str = ""  # ISO 8601 (YYYY-MM-DD) when it could be parsed, else as written
    source: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class Document:
    """A cleaned document. `doc_id` is its path relative to the collection folder."""

    doc_id: str
    text: str
    meta: DocumentMeta = field(default_factory=DocumentMeta)
    content_hash: str = ""  # SHA-256 of the raw bytes, so unchanged files are not re-embedded
    language: str = ""  # "zh" or "en" (dominant script), used for cross-lingual retrieval


@dataclass(frozen=True, slots=True)
class Chunk:
    """A passage of a document: `document.text[start:end] == text`."""

    chunk_id: str  # f"{doc_id}#{n}"
    doc_id: str
    n: int
    text: str
    start: int
    end: int
    title: str = ""
    # Sentences screened as instructions to an assistant (index.injection): kept in `text`
    # (offsets and search stay those of the document) but never put into a prompt.
    flagged: tuple[str, ...] = ()
