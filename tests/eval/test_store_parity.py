"""The eval set's retrieval figures on the Milvus store match the FAISS store's (real embedder).

Both stores are built from the bundled collection with the same embedder, and every question is
searched through the same retriever (questions as written: no model translates them, so the two
runs see identical queries; a translation may differ from one engine run to the next).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from eval.backends import Found
from eval.items import EvalItem, load_items
from eval.runner import evaluate_retrieval
from eval.summary import summarise_retrieval
from index.backend import ChunkStore
from index.ingest import build_index, open_store
from ragqa.config import Settings
from ragqa.types import RetrievalMode
from service.retrieval import HybridRetriever

REPO = Path(__file__).resolve().parents[2]
FIGURES = ["hit_at_1", "hit_at_5", "mrr", "ndcg_at_5", "multi_doc_recall_at_5", "facts_in_context"]


class StoreSearch:
    """An eval back end that only searches one store."""

    def __init__(self, store: ChunkStore, retriever: HybridRetriever) -> None:
        self.store, self.retriever = store, retriever
        self.description = f"{store.kind} store"

    def search(
        self,
        query: str,
        *,
        top_k: int,
        mode: RetrievalMode,
        cross_lingual: bool | None,
        history: Sequence[Mapping[str, str]],
    ) -> list[Found]:
        hits = self.retriever.search(
            self.store.snapshot, query, top_k, mode=mode, history=[dict(t) for t in history]
        ).hits
        return [Found(h.chunk.doc_id, h.chunk.text) for h in hits]


@pytest.mark.slow
def test_milvus_retrieval_figures_match_faiss(tmp_path: Path, real_embedder) -> None:
    items = load_items(REPO / "eval" / "sets" / "default.jsonl", EvalItem)
    base = Settings(collection_dir=REPO / "corpus", index_dir=tmp_path / "index")  # type: ignore[call-arg]
    defaults = Settings()  # type: ignore[call-arg]
    retriever = HybridRetriever.from_settings(real_embedder, defaults)
    figures, rankings = {}, {}
    for kind in ("faiss", "milvus"):
        settings = base.model_copy(
            update={"store": kind, "milvus_uri": str(tmp_path / "milvus.db")}
        )
        build_index(settings, real_embedder, progress=False)
        store = open_store(settings, real_embedder)
        rows = evaluate_retrieval(StoreSearch(store, retriever), items, context_k=4)
        figures[kind] = summarise_retrieval(rows)
        rankings[kind] = [row.ranking for row in rows]
    for name in FIGURES:
        assert abs(figures["faiss"][name] - figures["milvus"][name]) <= 0.02, (name, figures)
    same = sum(a == b for a, b in zip(rankings["faiss"], rankings["milvus"], strict=True))
    assert same >= 0.95 * len(rankings["faiss"])
