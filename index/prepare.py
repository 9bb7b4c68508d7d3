"""Preparing documents for an index update: what to (re)index, chunks, BM25 words, vectors.

Nothing here touches the index folder; `index.generations` writes what this module prepares,
so an embedder that breaks its contract is caught before anything is written.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from index.chunking import chunk_document
from index.documents import Chunk, Document
from index.embedder import Embedder
from index.manifest import ChunkingInfo, DocumentEntry
from index.textnorm import index_tokens
from index.vector_cache import VectorCache, passage_key, split_cached
from ragqa.errors import IndexMismatch, IndexStoreError, ModelError

_UNIT_NORM_TOLERANCE = 1e-3

log = logging.getLogger(__name__)


def passage_text(chunk: Chunk) -> str:
    """What the embedder and BM25 see for a chunk: its title gives a passage its context.

    `chunk.text` itself stays the exact slice of the document, for citations.
    """
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


class ProgressSink(Protocol):
    """Receives progress of the long stages (tasks "files", "chunking", "embedding", "chunks",
    "writing"); a total of 0 means not known in advance."""

    def start(self, task: str, total: int) -> None: ...

    def advance(self, task: str, amount: int = 1) -> None: ...


class ChunkCounter:
    """Shows the embedding of batch after batch as one running count, task "chunks"."""

    def __init__(self, outer: ProgressSink) -> None:
        self.outer = outer
        outer.start("chunks", 0)

    def start(self, task: str, total: int) -> None:
        """Each batch's own tasks are not shown."""

    def advance(self, task: str, amount: int = 1) -> None:
        if task == "embedding":
            self.outer.advance("chunks", amount)


class NoProgress:
    """The progress sink of library and service calls: nothing is shown."""

    def start(self, task: str, total: int) -> None:
        """Progress is not shown."""

    def advance(self, task: str, amount: int = 1) -> None:
        """Progress is not shown."""


@dataclass(frozen=True)
class Failure:
    """A document that was not indexed, and why."""

    path: str
    reason: str


@dataclass
class Plan:
    """An update's documents sorted: to (re)index, unchanged, and refused."""

    to_index: list[Document]
    unchanged: list[str]
    failures: list[Failure]


def plan_update(docs: Sequence[Document], indexed: Mapping[str, DocumentEntry]) -> Plan:
    """Split `docs` into those to (re)index, unchanged ones, and duplicates within the batch.

    `indexed` is what the index holds now; a document with the same content hash is unchanged.
    """
    plan = Plan([], [], [])
    seen: set[str] = set()
    for doc in docs:
        if doc.doc_id in seen:
            plan.failures.append(Failure(doc.doc_id, "given twice in one update"))
            continue
        seen.add(doc.doc_id)
        known = indexed.get(doc.doc_id)
        if known is not None and known.content_hash == doc.content_hash:
            plan.unchanged.append(doc.doc_id)
        else:
            plan.to_index.append(doc)
    return plan


@dataclass
class PreparedDocument:
    """A document cut into chunks, with the BM25 words of each chunk."""

    doc: Document
    chunks: list[Chunk]
    tokens: list[list[str]]  # BM25 words of each chunk


def prepare_documents(
    docs: list[Document], embedder: Embedder, chunking: ChunkingInfo, progress: ProgressSink
) -> list[PreparedDocument]:
    """Chunk with the embedder's tokenizer and tokenise for BM25, one document at a time."""
    progress.start("chunking", len(docs))
    prepared = []
    for doc in docs:
        chunks = chunk_document(
            doc,
            max_tokens=chunking.chunk_size,
            overlap_sentences=chunking.chunk_overlap,
            count_tokens=embedder.count_tokens,
        )
        flagged = {sentence for chunk in chunks for sentence in chunk.flagged}
        if flagged:
            log.warning(
                "%s: %d sentence(s) read as instructions to an assistant; they stay searchable "
                "but are kept out of every prompt",
                doc.doc_id,
                len(flagged),
            )
        prepared.append(
            PreparedDocument(doc, chunks, [index_tokens(passage_text(c)) for c in chunks])
        )
        progress.advance("chunking")
    return prepared


def prepare_indexable(
    docs: list[Document], embedder: Embedder, chunking: ChunkingInfo, progress: ProgressSink
) -> tuple[list[PreparedDocument], list[Failure]]:
    """`prepare_documents`, with the documents that leave no chunk set aside as failures."""
    prepared = prepare_documents(docs, embedder, chunking, progress)
    failures = [Failure(i.doc.doc_id, "no text to index") for i in prepared if not i.chunks]
    return [item for item in prepared if item.chunks], failures


def embed_passages(
    texts: Sequence[str],
    embedder: Embedder,
    *,
    dimension: int,
    batch_size: int,
    progress: ProgressSink,
    cache: VectorCache | None = None,
) -> np.ndarray:
    """Embed in batches, checking the embedder keeps its contract (shape, unit length).

    Batches are made of texts of similar length (longest first, as sentence-transformers
    orders one call), so little of each batch is padding. With a `cache`, texts it holds are
    not embedded again, and each batch is committed to it as soon as it is embedded.
    """
    out = np.zeros((len(texts), dimension), dtype=np.float32)
    progress.start("embedding", len(texts))
    cached, missing = split_cached(texts, cache)
    for i, vector in cached.items():
        out[i] = vector
    if cached:
        progress.advance("embedding", len(cached))
    order = sorted(missing, key=lambda i: -len(texts[i]))
    for begin in range(0, len(order), batch_size):
        batch = order[begin : begin + batch_size]
        vectors = np.asarray(embedder.embed_documents([texts[i] for i in batch]), dtype=np.float32)
        if vectors.shape != (len(batch), dimension):
            raise IndexMismatch(
                f"embedder {embedder.model_id} returned vectors of shape {vectors.shape} for "
                f"{len(batch)} texts; the index expects dimension {dimension}"
            )
        if not np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=_UNIT_NORM_TOLERANCE):
            raise ModelError(f"embedder {embedder.model_id} returned vectors not of unit length")
        out[batch] = vectors
        if cache is not None:
            cache.put_many({passage_key(texts[i]): out[i] for i in batch})
        progress.advance("embedding", len(batch))
    return out


class BatchPreparer:
    """Prepares and embeds a from-scratch build's batches one at a time, so memory holds one
    batch's text; a document already indexed by an earlier batch is refused as given twice.

    The vector cache is made (`make_cache`) when the first vectors are needed, so a build of
    nothing leaves no cache file.
    """

    def __init__(
        self,
        embedder: Embedder | None,
        chunking: ChunkingInfo,
        *,
        dimension: int,
        batch_size: int,
        progress: ProgressSink,
        make_cache: Callable[[], VectorCache],
        where: object,
    ) -> None:
        self.embedder = embedder
        self.chunking = chunking
        self.dimension = dimension
        self.batch_size = batch_size
        self.progress = progress
        self.make_cache = make_cache
        self.where = where
        self.cache: VectorCache | None = None
        self.failures: list[Failure] = []
        self.indexed: set[str] = set()

    def prepare(self, docs: Sequence[Document]) -> tuple[list[PreparedDocument], np.ndarray]:
        """The batch's documents to index, and their chunks' vectors in order."""
        plan = plan_update(docs, {})
        todo = [doc for doc in plan.to_index if doc.doc_id not in self.indexed]
        self.failures += plan.failures + [
            Failure(doc.doc_id, "given twice")
            for doc in plan.to_index
            if doc.doc_id in self.indexed
        ]
        if not todo:
            return [], np.zeros((0, self.dimension), dtype=np.float32)
        if self.embedder is None:
            raise IndexStoreError(f"{self.where}: indexing documents needs an embedder")
        prepared, failures = prepare_indexable(todo, self.embedder, self.chunking, NoProgress())
        self.failures += failures
        self.cache = self.cache or self.make_cache()
        vectors = embed_passages(
            [passage_text(chunk) for item in prepared for chunk in item.chunks],
            self.embedder,
            dimension=self.dimension,
            batch_size=self.batch_size,
            progress=self.progress,
            cache=self.cache,
        )
        self.indexed.update(item.doc.doc_id for item in prepared)
        return prepared, vectors
