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

import hashlib
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
from index.injection import flagged_in_range
from index.manifest import DocumentEntry, Manifest, ManifestExpectation, check_compatible
from index.milvus_view import (
    MAX_STRING,
    MilvusView,
    lexical_words,
    quote,
    reaching,
)
from index.prepare import (
    Failure,
    NoProgress,
    PreparedDocument,
    ProgressSink,
    embed_passages,
    passage_text,
    plan_update,
    prepare_documents,
)
from ragqa.errors import DocumentNotFound, IndexStoreError

# Milvus Lite serves no MVCC timestamp, and pymilvus warns on every document listing; harmless.
logging.getLogger("pymilvus.client.iterator.query_iterator").setLevel(logging.ERROR)

BM25_METHOD = "milvus BM25"  # recorded in the store's manifest instead of bm25s's "lucene"
HNSW_PARAMS = {"M": 32, "efConstruction": 200}
DEFAULT_EF = 128  # HNSW search depth; at least k
TEXT_PART_CHARS = MAX_STRING // 4  # a document's text is stored in parts of at most this
WRITE_BATCH = 512  # rows per insert call
_DOC_FIELDS = ["doc_id", "content_hash", "title", "date", "source", "url", "language", "n_chunks"]


def _chunk_pk(content_hash: str, n: int) -> int:
    """A chunk's id: stable for the same content, new for a changed document, under 2**63."""
    digest = hashlib.blake2b(f"{content_hash}#{n}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") >> 1


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
        ef: int = DEFAULT_EF,
    ) -> None:
        from pymilvus import MilvusClient

        self.uri = uri
        self.prefix = prefix
        self.chunks, self.documents = f"{prefix}_chunks", f"{prefix}_documents"
        self.texts, self.meta = f"{prefix}_texts", f"{prefix}_meta"
        self.refresh_seconds = refresh_seconds
        self.ef = ef
        if uri.endswith(".db"):  # Milvus Lite: a local folder, started in this process
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client = MilvusClient(uri=uri, token=token)
        except Exception as exc:  # pymilvus raises its own and grpc's errors
            raise IndexStoreError(f"{uri}: cannot connect to Milvus ({exc})") from exc
        self.manifest = self._open_manifest(expected)
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
        self.created = not self.client.has_collection(self.meta)
        if self.created:
            if expected is None:
                raise IndexStoreError(
                    f"{self.uri}: no ragqa index under the prefix {self.prefix!r}"
                )
            return self._create(self._stored_expectation(expected))
        for name in (self.meta, self.documents, self.texts, self.chunks):
            if not self.client.has_collection(name):
                raise IndexStoreError(f"{self.uri}: collection {name} is missing; rebuild")
            self.client.load_collection(name)
        rows = self.client.get(self.meta, ids=["manifest"], output_fields=["value"])
        if not rows:
            raise IndexStoreError(f"{self.uri}: {self.meta} holds no manifest; rebuild")
        manifest = Manifest.model_validate_json(rows[0]["value"])
        if expected is not None:
            check_compatible(manifest, self._stored_expectation(expected), where=self.uri)
        return manifest

    def _create(self, expected: ManifestExpectation) -> Manifest:
        from pymilvus import DataType, Function, FunctionType

        client = self.client

        def schema(primary: DataType, **kwargs: Any) -> Any:
            s = client.create_schema(auto_id=False)
            s.add_field("id", primary, is_primary=True, **kwargs)
            return s

        def tiny_vector(s: Any, index: Any) -> None:  # Milvus wants a vector in every collection
            s.add_field("v", DataType.FLOAT_VECTOR, dim=2)
            index.add_index("v", index_type="FLAT", metric_type="L2")

        chunks = schema(DataType.INT64)
        for name in ("doc_id", "content_hash", "title", "language"):
            chunks.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
        chunks.add_field("n", DataType.INT64)
        chunks.add_field("start", DataType.INT64)
        chunks.add_field("end", DataType.INT64)
        chunks.add_field("text", DataType.VARCHAR, max_length=MAX_STRING)
        chunks.add_field("flagged", DataType.JSON)
        chunks.add_field(
            "words",
            DataType.VARCHAR,
            max_length=MAX_STRING,
            enable_analyzer=True,
            analyzer_params={"tokenizer": "standard"},
        )
        chunks.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=expected.embedder.dimension)
        chunks.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["words"],
                output_field_names=["sparse"],
            )
        )
        index = client.prepare_index_params()
        index.add_index("dense", index_type="HNSW", metric_type="IP", params=HNSW_PARAMS)
        index.add_index(
            "sparse",
            index_type="SPARSE_INVERTED_INDEX",
            metric_type="BM25",
            params={"bm25_k1": expected.lexical.k1, "bm25_b": expected.lexical.b},
        )
        client.create_collection(
            self.chunks, schema=chunks, index_params=index, consistency_level="Strong"
        )
        documents = schema(DataType.VARCHAR, max_length=MAX_STRING)
        for name in _DOC_FIELDS[1:-1]:
            documents.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
        documents.add_field("n_chunks", DataType.INT64)
        texts = schema(DataType.INT64)
        for name in ("doc_id", "content_hash", "text"):
            texts.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
        texts.add_field("part", DataType.INT64)
        meta = schema(DataType.VARCHAR, max_length=64)
        meta.add_field("value", DataType.VARCHAR, max_length=MAX_STRING)
        for name, s in ((self.documents, documents), (self.texts, texts), (self.meta, meta)):
            index = client.prepare_index_params()
            tiny_vector(s, index)
            client.create_collection(name, schema=s, index_params=index, consistency_level="Strong")
        manifest = Manifest.new(
            expected,
            faiss_factory=f"milvus HNSW {HNSW_PARAMS}",
            documents=[],
            build_seconds=None,
            files={},
        )
        self._put_meta("manifest", manifest.model_dump_json())
        self._put_meta("revision", uuid.uuid4().hex)
        return manifest

    def _put_meta(self, key: str, value: str) -> None:
        self.client.upsert(self.meta, [{"id": key, "value": value, "v": [0.0, 0.0]}])

    # --- reading ------------------------------------------------------------------------

    def _revision(self) -> str:
        rows = self.client.get(self.meta, ids=["revision"], output_fields=["value"])
        return rows[0]["value"] if rows else ""

    def _load_view(self) -> MilvusView:
        revision = self._revision()
        documents: dict[str, DocumentEntry] = {}
        iterator = self.client.query_iterator(
            self.documents, batch_size=1000, filter='id != ""', output_fields=_DOC_FIELDS
        )
        try:
            while batch := iterator.next():
                for row in batch:
                    documents[row["id"]] = DocumentEntry(
                        **{name: row[name] for name in _DOC_FIELDS if name != "doc_id"},
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
            prepared = prepare_documents(plan.to_index, embedder, self.manifest.chunking, progress)
            failures = plan.failures + [
                Failure(item.doc.doc_id, "no text to index") for item in prepared if not item.chunks
            ]
            prepared = [item for item in prepared if item.chunks]
            texts = [passage_text(chunk) for item in prepared for chunk in item.chunks]
            vectors = embed_passages(
                texts,
                embedder,
                dimension=self.manifest.embedder.dimension,
                batch_size=batch_size,
                progress=progress,
            )
            progress.start("writing", len(prepared))
            chunks_removed = 0
            offset = 0
            for item in prepared:
                n = len(item.chunks)
                self._write_document(item, vectors[offset : offset + n])
                offset += n
                old = base.get(item.doc.doc_id)
                chunks_removed += old.n_chunks if old is not None else 0
                progress.advance("writing")
            if prepared:
                self._bump()
        indexed = [item.doc.doc_id for item in prepared]
        replaced = sorted(d for d in indexed if d in base)
        return UpdateReport(
            generation=self._view.generation,
            added=tuple(sorted(set(indexed) - set(replaced))),
            replaced=tuple(replaced),
            unchanged=tuple(plan.unchanged),
            chunks_added=len(texts),
            chunks_removed=chunks_removed,
            failures=tuple(failures),
            seconds=time.perf_counter() - started,
        )

    def _write_document(self, item: PreparedDocument, vectors: np.ndarray) -> None:
        """Chunks and text first, then the document row (the commit), then older rows go."""
        doc = item.doc
        rows = [
            {
                "id": _chunk_pk(doc.content_hash, chunk.n),
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
        for begin in range(0, len(rows), WRITE_BATCH):
            self.client.upsert(self.chunks, rows[begin : begin + WRITE_BATCH])
        parts = [
            doc.text[i : i + TEXT_PART_CHARS]
            for i in range(0, max(len(doc.text), 1), TEXT_PART_CHARS)
        ]
        self.client.upsert(
            self.texts,
            [
                {
                    "id": _chunk_pk(doc.content_hash, -1 - part),
                    "doc_id": doc.doc_id,
                    "content_hash": doc.content_hash,
                    "part": part,
                    "text": text,
                    "v": [0.0, 0.0],
                }
                for part, text in enumerate(parts)
            ],
        )
        meta = doc.meta
        entry = {
            "id": doc.doc_id,
            "content_hash": doc.content_hash,
            "title": meta.title,
            "date": meta.date,
            "source": meta.source,
            "url": meta.url,
            "language": doc.language,
            "n_chunks": len(rows),
            "v": [0.0, 0.0],
        }
        self.client.upsert(self.documents, [entry])
        stale = f"doc_id == {quote(doc.doc_id)} and content_hash != {quote(doc.content_hash)}"
        self.client.delete(self.chunks, filter=stale)
        self.client.delete(self.texts, filter=stale)

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
                self.client.delete(self.documents, filter=f"id in {listed}")
                self.client.delete(self.chunks, filter=f"doc_id in {listed}")
                self.client.delete(self.texts, filter=f"doc_id in {listed}")
                self._bump()
        return UpdateReport(
            generation=self._view.generation,
            removed=tuple(targets),
            chunks_removed=sum(base[d].n_chunks for d in targets),
            seconds=time.perf_counter() - started,
        )

    def _bump(self) -> None:
        self._put_meta("revision", uuid.uuid4().hex)
        self.refresh()

    def drop(self) -> None:
        """Delete every collection of this store (a full rebuild starts from nothing)."""
        for name in (self.chunks, self.documents, self.texts, self.meta):
            if self.client.has_collection(name):
                self.client.drop_collection(name)

    def close(self) -> None:
        self.client.close()
