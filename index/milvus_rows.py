"""The rows the Milvus store writes for a prepared document: chunks, text parts, its entry.

Row ids derive from the document's id and content hash (`row_pk`), so rewriting the same
content upserts the same rows, and a changed document's rows never collide with its old ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from index.documents import Document
from index.injection import flagged_in_range
from index.manifest import DocumentEntry
from index.milvus_view import MAX_STRING, lexical_words
from index.prepare import PreparedDocument

TEXT_PART_CHARS = MAX_STRING // 4  # a document's text is stored in parts of at most this
WRITE_BATCH = 512  # chunk rows per upsert call
TEXT_BATCH = 64  # text rows (up to TEXT_PART_CHARS each) per upsert call
T = TypeVar("T")


def row_pk(doc_id: str, content_hash: str, n: int) -> int:
    """A row's id: stable for the same document and content, new for a changed one, < 2**63.

    The document id is part of it, so two files with the same bytes keep their own chunks.
    """
    key = f"{doc_id}\0{content_hash}#{n}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> 1


def batches(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    for begin in range(0, len(items), size):
        yield items[begin : begin + size]


def document_entry(item: PreparedDocument) -> DocumentEntry:
    """The manifest entry of a prepared document, written as its document row (the commit)."""
    doc, meta = item.doc, item.doc.meta
    return DocumentEntry(
        doc_id=doc.doc_id,
        content_hash=doc.content_hash,
        title=meta.title,
        date=meta.date,
        source=meta.source,
        url=meta.url,
        language=doc.language,
        n_chunks=len(item.chunks),
    )


def chunk_rows(item: PreparedDocument, vectors: np.ndarray) -> list[dict[str, Any]]:
    """One row per chunk: text, offsets, flagged sentences, BM25 words and its vector."""
    doc = item.doc
    return [
        {
            "id": row_pk(doc.doc_id, doc.content_hash, chunk.n),
            "doc_id": doc.doc_id,
            "content_hash": doc.content_hash,
            "title": chunk.title,
            "language": doc.language,
            "n": chunk.n,
            "start": chunk.start,
            "end": chunk.end,
            "text": chunk.text,
            "flagged": list(flagged_in_range(doc.text, chunk.start, chunk.end)),
            "words": lexical_words(tokens),
            "dense": vector.tolist(),
        }
        for chunk, tokens, vector in zip(item.chunks, item.tokens, vectors, strict=True)
    ]


def text_rows(doc: Document) -> list[dict[str, Any]]:
    """The document's text in parts a Milvus string holds (ids apart from its chunks')."""
    step = TEXT_PART_CHARS
    parts = [doc.text[i : i + step] for i in range(0, max(len(doc.text), 1), step)]
    return [
        {
            "id": row_pk(doc.doc_id, doc.content_hash, -1 - part),
            "doc_id": doc.doc_id,
            "content_hash": doc.content_hash,
            "part": part,
            "text": text,
            "v": [0.0, 0.0],
        }
        for part, text in enumerate(parts)
    ]
