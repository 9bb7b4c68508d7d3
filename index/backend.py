"""What the service needs from an index, whichever engine holds it: a store and its read view.

Two implementations: the embedded FAISS + BM25 generations (`index.store.IndexStore`, the
default) and Milvus (`index.milvus_store.MilvusStore`, which API replicas can share). The
retriever, the answerer and the routes see only these protocols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

import numpy as np

from index.documents import Chunk, Document
from index.embedder import Embedder
from index.manifest import DocumentEntry
from index.prepare import Failure, ProgressSink


class Hit(NamedTuple):
    """A retrieved chunk: its integer id in the store, and the retriever's score."""

    id: int
    score: float


@dataclass(frozen=True)
class SearchFilter:
    """Metadata every hit must have: its document's coarse language, and/or one of these ids."""

    language: str | None = None  # "zh" or "en" (`Document.language`)
    doc_ids: frozenset[str] | None = None

    def admits(self, entry: DocumentEntry) -> bool:
        return (self.language is None or entry.language == self.language) and (
            self.doc_ids is None or entry.doc_id in self.doc_ids
        )


@dataclass(frozen=True)
class UpdateReport:
    """What one write did. `generation` names the store's state afterwards."""

    generation: str
    added: tuple[str, ...] = ()
    replaced: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    chunks_added: int = 0
    chunks_removed: int = 0
    failures: tuple[Failure, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class IndexStats:
    """What `ragqa index stats` shows; `location` is a folder or an engine's address."""

    store: str  # "faiss" or "milvus"
    location: str
    generation: str
    n_documents: int
    n_chunks: int
    languages: tuple[str, ...]
    embedder_id: str
    embedder_fingerprint: str
    dimension: int
    search_index: str  # the FAISS factory string, or the Milvus index type and its parameters
    chunk_size: int
    chunk_overlap: int
    generation_bytes: int  # the live generation (0 when the engine does not say)
    disk_bytes: int  # the whole index folder (0 when the engine does not say)
    created_at: datetime
    build_seconds: float | None


class SearchView(Protocol):
    """A consistent view of the index for one request: what it holds and how to search it."""

    generation: str
    documents: Mapping[str, DocumentEntry]
    languages: frozenset[str]

    def __len__(self) -> int: ...

    def chunk(self, chunk_id: int) -> Chunk:
        """A chunk this view's searches returned (or any chunk of the index)."""
        ...

    def document_text(self, doc_id: str) -> str:
        """The cleaned text of a document; DocumentNotFound when it is not indexed."""
        ...

    def dense_search(
        self, query_vectors: np.ndarray, k: int, where: SearchFilter | None = None
    ) -> list[list[Hit]]:
        """Nearest chunks by cosine, one ranked list of up to k per query vector."""
        ...

    def lexical_search_tokens(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None = None
    ) -> list[Hit]:
        """Chunks sharing index tokens (`index.textnorm`) with the query, by BM25, best first."""
        ...


class ChunkStore(Protocol):
    """An index the service reads through views and changes only through these methods."""

    kind: str

    @property
    def snapshot(self) -> SearchView: ...

    def refresh(self) -> bool:
        """Pick up changes another process made; True when the view changed."""
        ...

    def stats(self) -> IndexStats: ...

    def add_documents(
        self,
        docs: Sequence[Document],
        embedder: Embedder,
        *,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
    ) -> UpdateReport:
        """Index new and changed documents; unchanged ones (same content hash) are skipped."""
        ...

    def remove_documents(self, doc_ids: Sequence[str]) -> UpdateReport:
        """Remove documents by id; an unknown id raises DocumentNotFound and changes nothing."""
        ...
