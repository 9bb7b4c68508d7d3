"""Reading the Milvus store: a view of one revision's documents, and searches over its chunks.

Searches go to Milvus each time and keep only chunks whose content hash is their document's
current one (`index.milvus_store` explains why); chunks the searches return are cached for the
request's passages. A Milvus that cannot be reached fails the request with StoreUnavailable.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from index.backend import Hit, SearchFilter
from index.documents import Chunk
from index.manifest import DocumentEntry
from ragqa.errors import DocumentNotFound, StoreUnavailable

if TYPE_CHECKING:
    from index.milvus_store import MilvusStore

MAX_STRING = 65_535  # bytes in a Milvus VARCHAR
CHUNK_CACHE = 50_000  # chunks a view keeps after searches returned them
CHUNK_FIELDS = ["doc_id", "content_hash", "n", "start", "end", "text", "title", "flagged"]

WORD_BYTES = 18  # "w", 16 hex digits and a space
MAX_WORDS = MAX_STRING // WORD_BYTES


def lexical_words(tokens: Sequence[str]) -> str:
    """Index tokens as space-separated ASCII words: any Milvus analyzer keeps each one whole.

    A Milvus string holds at most MAX_WORDS of them; a chunk with more (no sentence end for
    thousands of characters) is matched on its first MAX_WORDS tokens.
    """
    return " ".join(
        "w" + hashlib.blake2b(t.encode(), digest_size=8).hexdigest() for t in tokens[:MAX_WORDS]
    )


def quote(value: str) -> str:
    """A string literal for a Milvus filter expression."""
    return json.dumps(value, ensure_ascii=False)


def expression(where: SearchFilter | None) -> str:
    """A Milvus filter expression for `where` (empty: no filter)."""
    if where is None:
        return ""
    parts = []
    if where.language is not None:
        parts.append(f"language == {quote(where.language)}")
    if where.doc_ids is not None:
        parts.append("doc_id in [" + ", ".join(quote(d) for d in sorted(where.doc_ids)) + "]")
    return " and ".join(parts)


@contextmanager
def reaching(uri: str) -> Iterator[None]:
    """Milvus's and gRPC's errors as StoreUnavailable, naming the server."""
    from pymilvus.exceptions import MilvusException

    try:
        yield
    except MilvusException as exc:
        raise StoreUnavailable(f"Milvus at {uri}: {exc.message}") from exc


class MilvusView:
    """The documents of one revision, with searches that see only their current chunks."""

    def __init__(
        self, store: MilvusStore, revision: str, documents: dict[str, DocumentEntry]
    ) -> None:
        self._store = store
        self.generation = revision
        self.documents: Mapping[str, DocumentEntry] = documents
        self.languages = frozenset(entry.language for entry in documents.values())
        self._n_chunks = sum(entry.n_chunks for entry in documents.values())
        self._chunks: OrderedDict[int, Chunk] = OrderedDict()
        self._texts: dict[str, str] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._n_chunks

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        with reaching(self._store.uri):
            return getattr(self._store.client, method)(*args, **kwargs)

    def _current(self, row: Mapping[str, Any]) -> bool:
        entry = self.documents.get(row["doc_id"])
        return entry is not None and entry.content_hash == row["content_hash"]

    def _keep(self, pk: int, row: Mapping[str, Any]) -> None:
        chunk = Chunk(
            chunk_id=f"{row['doc_id']}#{row['n']}",
            doc_id=row["doc_id"],
            n=int(row["n"]),
            text=row["text"],
            start=int(row["start"]),
            end=int(row["end"]),
            title=row["title"],
            flagged=tuple(row["flagged"] or ()),
        )
        with self._lock:
            self._chunks[pk] = chunk
            self._chunks.move_to_end(pk)
            while len(self._chunks) > CHUNK_CACHE:
                self._chunks.popitem(last=False)

    def chunk(self, chunk_id: int) -> Chunk:
        with self._lock:
            cached = self._chunks.get(chunk_id)
        if cached is not None:
            return cached
        rows = self._call(
            "get", self._store.names.chunks, ids=[chunk_id], output_fields=CHUNK_FIELDS
        )
        if not rows:
            raise KeyError(chunk_id)
        self._keep(chunk_id, rows[0])
        return self._chunks[chunk_id]

    def _hits(self, results: Iterable[Iterable[Mapping[str, Any]]]) -> list[list[Hit]]:
        out = []
        for row_hits in results:
            hits = []
            for hit in row_hits:
                entity = hit["entity"]
                if self._current(entity):
                    self._keep(int(hit["id"]), entity)
                    # BM25 scores are non-negative; Milvus Lite reports them negated.
                    hits.append(Hit(int(hit["id"]), abs(float(hit["distance"]))))
            out.append(hits)
        return out

    def dense_search(
        self, query_vectors: np.ndarray, k: int, where: SearchFilter | None = None
    ) -> list[list[Hit]]:
        vectors = np.atleast_2d(np.asarray(query_vectors, dtype=np.float32))
        if not self.documents or k <= 0:
            return [[] for _ in vectors]
        results = self._call(
            "search",
            self._store.names.chunks,
            data=vectors.tolist(),
            anns_field="dense",
            limit=k,
            filter=expression(where),
            output_fields=CHUNK_FIELDS,
            search_params=self._store.dense.search_params(k),
        )
        return self._hits(results)

    def lexical_search_tokens(
        self, tokens: Sequence[str], k: int, where: SearchFilter | None = None
    ) -> list[Hit]:
        words = lexical_words(tokens)
        if not words or not self.documents or k <= 0:
            return []
        results = self._call(
            "search",
            self._store.names.chunks,
            data=[words],
            anns_field="sparse",
            limit=k,
            filter=expression(where),
            output_fields=CHUNK_FIELDS,
            search_params={"metric_type": "BM25"},
        )
        return [h for h in self._hits(results)[0] if h.score > 0]

    def document_text(self, doc_id: str) -> str:
        entry = self.documents.get(doc_id)
        if entry is None:
            raise DocumentNotFound(doc_id)
        if doc_id not in self._texts:
            rows = self._call(
                "query",
                self._store.names.texts,
                filter=f"doc_id == {quote(doc_id)} and content_hash == {quote(entry.content_hash)}",
                output_fields=["part", "text"],
            )
            if not rows:  # removed since this view was loaded
                raise DocumentNotFound(doc_id)
            self._texts[doc_id] = "".join(r["text"] for r in sorted(rows, key=lambda r: r["part"]))
        return self._texts[doc_id]
