"""The Milvus store's collections: their fields, indexes, and the dense index's search depth.

Chunks carry the dense vector, the text and offsets, and the BM25 side (`words`, turned into a
sparse vector by Milvus's BM25 function); documents, document texts and the store's own
key-value rows live in three small collections, each with the tiny vector Milvus requires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from index.dense import IVF_NPROBE
from index.milvus_view import MAX_STRING

DenseIndexKind = Literal["HNSW", "IVF_FLAT"]
DENSE_INDEX_KINDS: tuple[DenseIndexKind, ...] = ("HNSW", "IVF_FLAT")
HNSW_PARAMS = {"M": 32, "efConstruction": 200}
HNSW_EF = 128  # HNSW search depth; at least k


@dataclass(frozen=True)
class DenseIndex:
    """Which Milvus index holds the dense vectors, and how deep a search goes in it.

    HNSW suits up to a few million vectors held in memory; IVF_FLAT keeps exact distances over
    the `nlist` clusters it probes, which held recall at 1M where HNSW lost it (docs/scaling.md).
    """

    kind: DenseIndexKind = "HNSW"
    nlist: int = 1024

    def __post_init__(self) -> None:
        if self.kind not in DENSE_INDEX_KINDS:
            raise ValueError(
                f"unknown Milvus index {self.kind!r}; choose one of {', '.join(DENSE_INDEX_KINDS)}"
            )

    @property
    def build_params(self) -> dict[str, int]:
        return dict(HNSW_PARAMS) if self.kind == "HNSW" else {"nlist": self.nlist}

    def search_params(self, k: int) -> dict[str, Any]:
        depth = {"ef": max(k, HNSW_EF)} if self.kind == "HNSW" else {"nprobe": IVF_NPROBE}
        return {"metric_type": "IP", "params": depth}

    def describe(self) -> str:
        return f"milvus {self.kind} {self.build_params}"


@dataclass(frozen=True)
class CollectionNames:
    chunks: str
    documents: str
    texts: str
    meta: str

    @classmethod
    def under(cls, prefix: str) -> CollectionNames:
        return cls(f"{prefix}_chunks", f"{prefix}_documents", f"{prefix}_texts", f"{prefix}_meta")

    def all(self) -> tuple[str, ...]:
        return (self.meta, self.documents, self.texts, self.chunks)


DOC_FIELDS = ["doc_id", "content_hash", "title", "date", "source", "url", "language", "n_chunks"]


def create_collections(
    client: Any,
    names: CollectionNames,
    *,
    dimension: int,
    k1: float,
    b: float,
    dense: DenseIndex,
) -> None:
    """Create the four collections (strongly consistent: a write is seen by the next read)."""
    from pymilvus import DataType, Function, FunctionType

    def schema(primary: DataType, **kwargs: Any) -> Any:
        s = client.create_schema(auto_id=False)
        s.add_field("id", primary, is_primary=True, **kwargs)
        return s

    chunks = schema(DataType.INT64)
    for name in ("doc_id", "content_hash", "title", "language"):
        chunks.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
    for name in ("n", "start", "end"):
        chunks.add_field(name, DataType.INT64)
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
    chunks.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
    chunks.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["words"],
            output_field_names=["sparse"],
        )
    )
    index = client.prepare_index_params()
    index.add_index("dense", index_type=dense.kind, metric_type="IP", params=dense.build_params)
    index.add_index(
        "sparse",
        index_type="SPARSE_INVERTED_INDEX",
        metric_type="BM25",
        params={"bm25_k1": k1, "bm25_b": b},
    )
    client.create_collection(
        names.chunks, schema=chunks, index_params=index, consistency_level="Strong"
    )

    documents = schema(DataType.VARCHAR, max_length=MAX_STRING)
    for name in DOC_FIELDS[1:-1]:
        documents.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
    documents.add_field("n_chunks", DataType.INT64)
    texts = schema(DataType.INT64)
    for name in ("doc_id", "content_hash", "text"):
        texts.add_field(name, DataType.VARCHAR, max_length=MAX_STRING)
    texts.add_field("part", DataType.INT64)
    meta = schema(DataType.VARCHAR, max_length=64)
    meta.add_field("value", DataType.VARCHAR, max_length=MAX_STRING)
    for name, s in ((names.documents, documents), (names.texts, texts), (names.meta, meta)):
        s.add_field("v", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector in every collection
        index = client.prepare_index_params()
        index.add_index("v", index_type="FLAT", metric_type="L2")
        client.create_collection(name, schema=s, index_params=index, consistency_level="Strong")


def dense_index_of(client: Any, chunks: str) -> DenseIndex:
    """The dense index an existing chunks collection was created with."""
    described = client.describe_index(chunks, "dense")
    kind = str(described.get("index_type", "HNSW"))
    if kind not in DENSE_INDEX_KINDS:  # created elsewhere: search it as HNSW would be
        return DenseIndex()
    nlist = int(described.get("nlist", DenseIndex.nlist) or DenseIndex.nlist)
    return DenseIndex(kind, nlist)
