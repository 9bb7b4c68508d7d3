"""The index on Milvus (pymilvus): one store that several API replicas can share.

Four collections under one prefix hold what the FAISS generations hold on disk: chunks (dense
vector, text, offsets, flagged sentences, and the BM25 side), documents (the manifest's entries),
document texts (in parts, as Milvus strings are bounded) and the store's manifest. The lexical
side is Milvus's own BM25 full-text search over ragqa's tokens (`index.textnorm`: jieba over
simplified text, pinyin n-grams), each written as a hashed ASCII word, so any Milvus analyzer
keeps them whole and both stores match the same words.

Milvus has no transactions. A document's row is the commit point: chunks are written first
under ids derived from the document's content hash, the document row is upserted, then older
chunks are deleted; searches drop any chunk whose content hash is not its document's current
one, so a reader never sees half a replacement, and a crash leaves only invisible leftovers,
deleted by the next write of that document. Every write bumps a revision that other processes
poll (`refresh_seconds`).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.backend import IndexStats, UpdateReport
from index.documents import Document
from index.embedder import Embedder
from index.manifest import DocumentEntry, Manifest, ManifestExpectation, check_compatible
from index.milvus_rows import (
    TEXT_BATCH,
    WRITE_BATCH,
    batches,
    chunk_rows,
    document_entry,
    text_rows,
)
from index.milvus_schema import (
    DOC_FIELDS,
    CollectionNames,
    DenseIndex,
    create_collections,
    dense_index_of,
)
from index.milvus_view import (
    MilvusView,
    quote,
    reaching,
)
from index.prepare import (
    NoProgress,
    PreparedDocument,
    ProgressSink,
    embed_passages,
    passage_text,
    plan_update,
    prepare_indexable,
)
from ragqa.errors import DocumentNotFound, IndexStoreError

# Milvus Lite serves no MVCC timestamp, and pymilvus warns on every document listing; harmless.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)

BM25_METHOD = "milvus BM25"  # recorded in the store's manifest instead of bm25s's "lucene"
DOCUMENTS_PER_COMMIT = 64  # documents whose rows are written, then committed, together


class MilvusStore:
    """The index in Milvus collections named `{prefix}_chunks`, `_documents`, `_texts`, `_meta`."""

    kind = "milvus"

    def __init__(
        self,
        uri: str,
        *,
        expected: ManifestExpectation | None,
        prefix: str = "ragqa",
        token: str = "",
        refresh_seconds: float = 1.0,
        dense: DenseIndex | None = None,
    ) -> None:
        """Open the store under `prefix`, creating it (with `dense`) when `expected` is given
        and it does not exist; an existing store keeps the dense index it was created with."""
        from pymilvus import MilvusClient

        self.uri = uri
        self.prefix = prefix
        self.names = CollectionNames.under(prefix)
        self.refresh_seconds = refresh_seconds
        self.dense = dense or DenseIndex()
        if uri.endswith(".db"):  # Milvus Lite: a local folder, started in this process
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(uri=uri, token=token)
        except Exception as exc:  # pymilvus raises its own and grpc's errors
            raise IndexStoreError(f"{uri}: cannot connect to Milvus ({exc})") from exc
        self.manifest = self._open_manifest(expected)
        if not self.created:
            self.dense = dense_index_of(self.client, self.names.chunks)
        self.expected = expected
        self._write_lock = threading.Lock()
        self._view_lock = threading.Lock()
        self._view = self._load_view()
        self._checked = time.monotonic()

    # --- schema and manifest ------------------------------------------------------------

    def _stored_expectation(self, expected: ManifestExpectation) -> ManifestExpectation:
        lexical = expected.lexical.model_copy(update={"bm25_method": BM25_METHOD})
        return expected.model_copy(update={"lexical": lexical})

    def _open_manifest(self, expected: ManifestExpectation | None) -> Manifest:
        self.created = not self.client.has_collection(self.names.meta)
        if self.created:
            if expected is None:
                raise IndexStoreError(
                    f"{self.uri}: no ragqa index under the prefix {self.prefix!r}"
                )
            return self._create(self._stored_expectation(expected))
        for name in self.names.all():
            if not self.client.has_collection(name):
                raise IndexStoreError(f"{self.uri}: collection {name} is missing; rebuild")
            self.client.load_collection(name)
        rows = self.client.get(self.names.meta, ids=["manifest"], output_fields=["value"])
        if not rows:
            raise IndexStoreError(f"{self.uri}: {self.names.meta} holds no manifest; rebuild")
        manifest = Manifest.model_validate_json(rows[0]["value"])
        if expected is not None:
            check_compatible(manifest, self._stored_expectation(expected), where=self.uri)
        return manifest

    def _create(self, expected: ManifestExpectation) -> Manifest:
        create_collections(
            self.client,
            self.names,
            dimension=expected.embedder.dimension,
            k1=expected.lexical.k1,
            b=expected.lexical.b,
            dense=self.dense,
        )
        manifest = Manifest.new(
            expected,
            faiss_factory=self.dense.describe(),
            documents=[],
            build_seconds=None,
            files={},
        )
        self._put_meta("manifest", manifest.model_dump_json())
        self._put_meta("revision", uuid.uuid4().hex)
        return manifest

    def _put_meta(self, key: str, value: str) -> None:
        self.client.upsert(self.names.meta, [{"id": key, "value": value, "v": [0.0, 0.0]}])

    # --- reading ------------------------------------------------------------------------

    def _revision(self) -> str:
        rows = self.client.get(self.names.meta, ids=["revision"], output_fields=["value"])
        return rows[0]["value"] if rows else ""

    def _load_view(self) -> MilvusView:
        revision = self._revision()
        documents: dict[str, DocumentEntry] = {}
        iterator = self.client.query_iterator(
            self.names.documents, batch_size=1000, filter='id != ""', output_fields=DOC_FIELDS
        )
        try:
            while batch := iterator.next():
                for row in batch:
                    documents[row["id"]] = DocumentEntry(
                        **{name: row[name] for name in DOC_FIELDS if name != "doc_id"},
                        doc_id=row["id"],
                    )
        finally:
            iterator.close()
        return MilvusView(self, revision, dict(sorted(documents.items())))

    @property
    def snapshot(self) -> MilvusView:
        """The current view; another process's writes show within `refresh_seconds`."""
        if time.monotonic() - self._checked >= self.refresh_seconds:
            self.refresh()
        with self._view_lock:
            return self._view

    def refresh(self) -> bool:
        self._checked = time.monotonic()
        with reaching(self.uri):
            if self._revision() == self._view.generation:
                return False
            view = self._load_view()
        with self._view_lock:
            self._view = view
        return True

    def stats(self) -> IndexStats:
        view = self.snapshot
        manifest = self.manifest
        return IndexStats(
            store=self.kind,
            location=f"{self.uri} ({self.prefix}_*)",
            generation=view.generation,
            n_documents=len(view.documents),
            n_chunks=len(view),
            languages=tuple(sorted(view.languages)),
            embedder_id=manifest.embedder.model_id,
            embedder_fingerprint=manifest.embedder.fingerprint,
            dimension=manifest.embedder.dimension,
            search_index=manifest.faiss_factory,
            chunk_size=manifest.chunking.chunk_size,
            chunk_overlap=manifest.chunking.chunk_overlap,
            generation_bytes=0,
            disk_bytes=0,
            created_at=manifest.created_at,
            build_seconds=manifest.build_seconds,
        )

    # --- writing ------------------------------------------------------------------------

    def add_documents(
        self,
        docs: Sequence[Document],
        embedder: Embedder,
        *,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
    ) -> UpdateReport:
        """Index new and changed documents; unchanged ones (same content hash) are skipped."""
        started = time.perf_counter()
        progress = progress or NoProgress()
        with self._write_lock, reaching(self.uri):
            self.refresh()
            base = self._view.documents
            plan = plan_update(docs, base)
            prepared, unindexable = prepare_indexable(
                plan.to_index, embedder, self.manifest.chunking, progress
            )
            failures = plan.failures + unindexable
            texts = [passage_text(chunk) for item in prepared for chunk in item.chunks]
            vectors = embed_passages(
                texts,
                embedder,
                dimension=self.manifest.embedder.dimension,
                batch_size=batch_size,
                progress=progress,
            )
            progress.start("writing", len(prepared))
            offset = 0
            committed: dict[str, DocumentEntry] = {}
            for group in batches(prepared, DOCUMENTS_PER_COMMIT):
                n = sum(len(item.chunks) for item in group)
                committed.update(self._write_group(group, vectors[offset : offset + n]))
                offset += n
                progress.advance("writing", len(group))
            if committed:
                self._bump(updated=committed, removed=())
        indexed = [item.doc.doc_id for item in prepared]
        replaced = sorted(d for d in indexed if d in base)
        return UpdateReport(
            generation=self._view.generation,
            added=tuple(sorted(set(indexed) - set(replaced))),
            replaced=tuple(replaced),
            unchanged=tuple(plan.unchanged),
            chunks_added=len(texts),
            chunks_removed=sum(base[d].n_chunks for d in replaced),
            failures=tuple(failures),
            seconds=time.perf_counter() - started,
        )

    def _write_group(
        self, group: Sequence[PreparedDocument], vectors: np.ndarray
    ) -> dict[str, DocumentEntry]:
        """Chunks and texts of every document first, then their document rows (the commit),
        then rows of their older contents go."""
        chunks: list[dict[str, Any]] = []
        texts: list[dict[str, Any]] = []
        offset = 0
        for item in group:
            n = len(item.chunks)
            chunks += chunk_rows(item, vectors[offset : offset + n])
            texts += text_rows(item.doc)
            offset += n
        for rows in batches(chunks, WRITE_BATCH):
            self.client.upsert(self.names.chunks, rows)
        for rows in batches(texts, TEXT_BATCH):
            self.client.upsert(self.names.texts, rows)
        entries = {item.doc.doc_id: document_entry(item) for item in group}
        self.client.upsert(
            self.names.documents,
            [
                {"id": doc_id, **entry.model_dump(exclude={"doc_id"}), "v": [0.0, 0.0]}
                for doc_id, entry in entries.items()
            ],
        )
        stale = " or ".join(
            f"(doc_id == {quote(doc.doc_id)} and content_hash != {quote(doc.content_hash)})"
            for doc in (item.doc for item in group)
        )
        self.client.delete(self.names.chunks, filter=stale)
        self.client.delete(self.names.texts, filter=stale)
        return entries

    def remove_documents(self, doc_ids: Sequence[str]) -> UpdateReport:
        started = time.perf_counter()
        with self._write_lock, reaching(self.uri):
            self.refresh()
            base = self._view.documents
            unknown = sorted(set(doc_ids) - set(base))
            if unknown:
                raise DocumentNotFound(unknown[0])
            targets = sorted(set(doc_ids))
            if targets:
                listed = "[" + ", ".join(quote(d) for d in targets) + "]"
                self.client.delete(self.names.documents, filter=f"id in {listed}")
                self.client.delete(self.names.chunks, filter=f"doc_id in {listed}")
                self.client.delete(self.names.texts, filter=f"doc_id in {listed}")
                self._bump(updated={}, removed=targets)
        return UpdateReport(
            generation=self._view.generation,
            removed=tuple(targets),
            chunks_removed=sum(base[d].n_chunks for d in targets),
            seconds=time.perf_counter() - started,
        )

    def _bump(self, *, updated: dict[str, DocumentEntry], removed: Sequence[str]) -> None:
        """Publish a new revision. The view follows from what this write changed, unless
        another process wrote since it was loaded: then it is read again."""
        unseen = self._revision() != self._view.generation
        revision = uuid.uuid4().hex
        self._put_meta("revision", revision)
        if unseen:
            view = self._load_view()
        else:
            documents = {d: e for d, e in self._view.documents.items() if d not in removed}
            documents.update(updated)
            view = MilvusView(self, revision, dict(sorted(documents.items())))
        with self._view_lock:
            self._view = view
        self._checked = time.monotonic()

    def flush(self) -> None:
        """Seal what was written into indexed segments: after a bulk build, so searches do not
        scan unsealed rows (Milvus Lite rebuilds their BM25 index on every search)."""
        with reaching(self.uri):
            for name in self.names.all():
                self.client.flush(name)

    def drop(self) -> None:
        """Delete every collection of this store (a full rebuild starts from nothing)."""
        for name in self.names.all():
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def close(self) -> None:
        self.client.close()
