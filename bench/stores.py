"""Section 7: bulk ingestion into each store (FAISS generations, Milvus Lite) and search on it.

Synthetic documents of the collection's own sentences go through the real `ragqa index build`
path (loading, cleaning, chunking, jieba and pinyin tokens, writing) into each store, each
build in a child process so its peak memory is its own. The embedder is replaced by a hashing
one (`HashEmbedder`): the model's cost is section 2's, and here it would hide the stores'.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import numpy as np

from bench.report import Section, Table, Target

DIMENSION = 384


@dataclass(frozen=True)
class StoresOptions:
    chunks: int  # about this many chunks in all
    chunks_per_document: int
    rounds: int  # passes over the queries when timing search


FULL = StoresOptions(chunks=100_000, chunks_per_document=10, rounds=3)
QUICK = StoresOptions(chunks=3_000, chunks_per_document=10, rounds=1)
SEARCH_BUDGET_S = 300.0  # timed searches stop after this long, once MIN_SEARCHES are done
MIN_SEARCHES = 30
CHARS_PER_CHUNK = 300  # what the chunker's 160 embedder tokens hold of Chinese text


class HashEmbedder:
    """Hashed character uni- and bigrams: deterministic, fast, unit length, 384-d."""

    model_id = "bench-hash-embedder"
    dimension = DIMENSION

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(DIMENSION, dtype=np.float32)
        lowered = text.lower()
        for gram in [*lowered, *(a + b for a, b in pairwise(lowered))]:
            vector[zlib.crc32(gram.encode()) % DIMENSION] += 1.0
        if not vector.any():
            vector[0] = 1.0
        return vector / np.linalg.norm(vector)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(-1, DIMENSION)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text) * 160 // CHARS_PER_CHUNK


def write_documents(folder: Path, sentences: Sequence[str], options: StoresOptions) -> int:
    """Documents of seeded random sentences, about `chunks_per_document` chunks each."""
    rng = np.random.default_rng(11)
    n_documents = max(1, options.chunks // options.chunks_per_document)
    target = CHARS_PER_CHUNK * options.chunks_per_document
    folder.mkdir(parents=True, exist_ok=True)
    for d in range(n_documents):
        parts, length = [], 0
        while length < target:
            sentence = sentences[int(rng.integers(len(sentences)))]
            parts.append(sentence)
            length += len(sentence)
        (folder / f"doc_{d:06d}.txt").write_text(
            f"合成文档 {d}\n\n" + "".join(parts), encoding="utf-8"
        )
    return n_documents


def _child(store: str, root: str, work: str, queries_file: str, rounds: int) -> None:
    """Build `store` from `root`, time hybrid searches, print one JSON line of figures."""
    from index.ingest import build_index, open_store
    from ragqa.config import Settings
    from service.retrieval import HybridRetriever

    embedder = HashEmbedder()
    settings = Settings(
        collection_dir=Path(root),
        index_dir=Path(work) / "index",
        store=store,
        milvus_uri=str(Path(work) / "milvus.db"),
    )
    started = time.perf_counter()
    report = build_index(settings, embedder, progress=False)
    seconds = time.perf_counter() - started
    opened = open_store(settings, embedder)
    retriever = HybridRetriever.from_settings(embedder, settings)
    queries = json.loads(Path(queries_file).read_text())
    view = opened.snapshot
    retriever.search(view, queries[0], 5)  # first use: connections, compiled BM25
    timings: list[float] = []
    deadline = time.perf_counter() + SEARCH_BUDGET_S
    for query in [q for _ in range(rounds) for q in queries]:
        if len(timings) >= MIN_SEARCHES and time.perf_counter() > deadline:
            break  # Milvus Lite decodes every sparse vector per BM25 search: seconds at 100k
        t0 = time.perf_counter()
        retriever.search(view, query, 5)
        timings.append((time.perf_counter() - t0) * 1000)
    print(
        json.dumps(
            {
                "documents": report.documents,
                "chunks": report.chunks,
                "failures": len(report.failures),
                "seconds": seconds,
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "p50_ms": float(np.percentile(timings, 50)),
                "p99_ms": float(np.percentile(timings, 99)),
                "searches": len(timings),
            }
        )
    )


def _measure(store: str, root: Path, work: Path, queries: Path, rounds: int) -> dict[str, float]:
    work.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "bench.stores", store, *map(str, (root, work, queries, rounds))],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if done.returncode != 0:
        raise RuntimeError(f"building the {store} store failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def run_stores(
    section: Section, sentences: Sequence[str], queries: Sequence[str], options: StoresOptions
) -> Section:
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-stores-") as tmp:
        root = Path(tmp) / "collection"
        n_documents = write_documents(root, sentences, options)
        queries_file = Path(tmp) / "queries.json"
        queries_file.write_text(json.dumps(list(queries), ensure_ascii=False))
        results = {
            store: _measure(store, root, Path(tmp) / store, queries_file, options.rounds)
            for store in ("faiss", "milvus")
        }
    table = Table(
        "Bulk build and hybrid search per store (hash embedder)",
        [
            "store",
            "documents",
            "chunks",
            "build s",
            "documents/s",
            "chunks/s",
            "peak RSS MB",
            "search p50 ms",
            "search p99 ms",
            "searches timed",
        ],
    )
    for store, r in results.items():
        table.rows.append(
            [
                store,
                int(r["documents"]),
                int(r["chunks"]),
                r["seconds"],
                r["documents"] / r["seconds"],
                r["chunks"] / r["seconds"],
                r["peak_rss_mb"],
                r["p50_ms"],
                r["p99_ms"],
                int(r["searches"]),
            ]
        )
    section.tables.append(table)
    faiss_p50, milvus_p50 = results["faiss"]["p50_ms"], results["milvus"]["p50_ms"]
    section.targets.append(
        Target(
            name="Milvus Lite search p50 against FAISS",
            goal="measured (no target set)",
            measured=f"{milvus_p50:.1f} ms against {faiss_p50:.1f} ms "
            f"({milvus_p50 / faiss_p50:.1f}x)",
            met=True,
        )
    )
    section.notes += [
        f"{n_documents:,} synthetic documents of the collection's own sentences (seeded), "
        "built by `build_index` as `ragqa index build` does, each store in a child process "
        "(peak RSS is that process's ru_maxrss: Python, the libraries and the build).",
        "The embedder is a hashing one (character uni- and bigrams, 384-d): what a build spends "
        "in the model is section 2's figure, and would hide the stores' own costs here. "
        "Chunking, cleaning and the jieba and pinyin tokens are the real ones.",
        f"Search: the eval questions, up to {options.rounds} pass(es) or {SEARCH_BUDGET_S:.0f} s "
        f"(at least {MIN_SEARCHES} searches), hybrid with translation off, top 5, in-process "
        "through the same retriever. Milvus here is Milvus Lite 3.x, a pure-Python engine in "
        "the process (its BM25 inverted index is searched in Python, after the build's flush), "
        "so its search figures say nothing about a Milvus server's.",
    ]
    return section


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], rounds=int(sys.argv[5]))
