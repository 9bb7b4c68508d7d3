"""`python -m bench.lexical_sparse`: the two ways Milvus can hold ragqa's lexical side, measured.

1. Milvus's BM25 function over ragqa's own tokens (hashed words): what the Milvus store does.
2. Sparse vectors ragqa computes: each chunk's bm25s weights (idf x term part) written as a
   SPARSE_FLOAT_VECTOR and searched by inner product with the query's token counts.
Both against bm25s itself (the FAISS store), on the bundled collection and every answerable
question of the default eval set, lexical search alone: gold document hit@1 and hit@5, answer
facts in the top 5 chunks, and how often each ranking's top 10 is bm25s's.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import save_dated
from bench.stores import HashEmbedder
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from index.backend import Hit, SearchView
from index.ingest import build_index, open_store
from index.snapshot import IndexSnapshot
from index.textnorm import tokenize
from ragqa.config import Settings

REPO = Path(__file__).resolve().parents[1]
K = 10
Ranker = Callable[[list[str]], list[str]]  # query tokens -> chunk texts, best first


def _sparse_collection(client: Any, snapshot: IndexSnapshot) -> dict[str, int]:
    """A collection of bm25s's per-chunk weights as sparse vectors; returns the vocabulary."""
    from pymilvus import DataType

    retriever = snapshot.lexical.retriever
    assert retriever is not None, "the bundled collection has words"
    scores = retriever.scores
    vocab = {t: i for t, i in retriever.vocab_dict.items() if t}
    rows: dict[int, dict[int, float]] = {}
    for column in range(len(scores["indptr"]) - 1):
        begin, end = scores["indptr"][column], scores["indptr"][column + 1]
        for row, weight in zip(
            scores["indices"][begin:end], scores["data"][begin:end], strict=True
        ):
            rows.setdefault(int(row), {})[column] = float(weight)
    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    index = client.prepare_index_params()
    index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="IP")
    client.create_collection("client_sparse", schema=schema, index_params=index)
    ids = snapshot.lexical.ids
    client.insert(
        "client_sparse", [{"id": int(ids[row]), "sparse": weights} for row, weights in rows.items()]
    )
    return vocab


def _rankers(work: Path) -> tuple[dict[str, Ranker], IndexSnapshot]:
    from pymilvus import MilvusClient

    settings = {"collection_dir": REPO / "corpus", "milvus_prefix": "bench"}
    faiss = Settings(**settings, index_dir=work / "index", store="faiss")  # type: ignore[arg-type]
    milvus = Settings(**settings, store="milvus", milvus_uri=str(work / "m.db"))  # type: ignore[arg-type]
    embedder = HashEmbedder()  # vectors play no part in lexical search
    for s in (faiss, milvus):
        build_index(s, embedder, progress=False)
    snapshot = open_store(faiss, embedder).snapshot
    assert isinstance(snapshot, IndexSnapshot)
    view = open_store(milvus, embedder).snapshot
    client = MilvusClient(str(work / "sparse.db"))
    vocab = _sparse_collection(client, snapshot)

    def by_text(view_: SearchView, hits: Sequence[Hit]) -> list[str]:
        return [view_.chunk(h.id).text for h in hits]

    def bm25s(tokens: list[str]) -> list[str]:
        return by_text(snapshot, snapshot.lexical_search_tokens(tokens, K))

    def milvus_bm25(tokens: list[str]) -> list[str]:
        return by_text(view, view.lexical_search_tokens(tokens, K))

    def client_sparse(tokens: list[str]) -> list[str]:
        query: dict[int, float] = {}
        for token in tokens:
            if token in vocab:
                query[vocab[token]] = query.get(vocab[token], 0.0) + 1.0
        if not query:
            return []
        found = client.search(
            "client_sparse",
            data=[query],
            anns_field="sparse",
            limit=K,
            search_params={"metric_type": "IP"},
        )[0]
        return [snapshot.chunk(int(hit["id"])).text for hit in found]

    rankers: dict[str, Ranker] = {
        "bm25s (FAISS store)": bm25s,
        "Milvus BM25 function": milvus_bm25,
        "client sparse vectors": client_sparse,
    }
    return rankers, snapshot


def main() -> None:
    items = [
        item
        for item in load_items(REPO / "eval" / "sets" / "default.jsonl", EvalItem)
        if item.type != "unanswerable"
    ]
    with tempfile.TemporaryDirectory(prefix="ragqa-lexical-") as tmp:
        rankers, snapshot = _rankers(Path(tmp))
        doc_of = {
            chunk.text: chunk.doc_id for chunk in map(snapshot.chunk, snapshot.chunk_ids().tolist())
        }
        results: dict[str, list[list[str]]] = {name: [] for name in rankers}
        seconds: dict[str, float] = {}
        for name, rank in rankers.items():
            started = time.perf_counter()
            results[name] = [rank(tokenize(item.question)) for item in items]
            seconds[name] = time.perf_counter() - started
    reference = results["bm25s (FAISS store)"]
    lines = [
        f"# Lexical side on Milvus, measured {date.today()} (`python -m bench.lexical_sparse`)",
        f"{len(items)} answerable questions of eval/sets/default.jsonl, lexical search alone "
        f"(the question's own tokens), bundled collection ({len(doc_of)} chunks).",
        "",
        "| lexical side | doc hit@1 | doc hit@5 | facts in top 5 | top 10 = bm25s's | ms/query |",
        "|---|---|---|---|---|---|",
    ]
    for name, ranked in results.items():
        hit1 = np.mean(
            [bool(r) and doc_of[r[0]] in i.gold_docs for r, i in zip(ranked, items, strict=True)]
        )
        hit5 = np.mean(
            [
                any(doc_of[t] in i.gold_docs for t in r[:5])
                for r, i in zip(ranked, items, strict=True)
            ]
        )
        facts = np.mean(
            [
                not missing_fact_groups("\n".join(r[:5]), i.answer_facts)
                for r, i in zip(ranked, items, strict=True)
            ]
        )
        same = np.mean([r == ref for r, ref in zip(ranked, reference, strict=True)])
        ms = 1000 * seconds[name] / len(items)
        lines.append(f"| {name} | {hit1:.3f} | {hit5:.3f} | {facts:.3f} | {same:.3f} | {ms:.1f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    save_dated("lexical-sparse", text)


if __name__ == "__main__":
    main()
