"""`python -m bench.ann_sweep [N]`: the dense index alone at N chunks (default 1M), printed.

The retrieval section builds a whole snapshot per size, which at 1M no longer fits 24 GiB;
this measures only what the ANN choice decides: recall@10 against exact search and single-query
latency (k 90, one thread, as the retriever asks) for the product's inverted file
(`index.dense.factory_for`) at several probe counts, and HNSW as it was configured before.
Vectors are bench.synthetic's: 2,000 real chunk embeddings and calibrated noisy copies.
"""

from __future__ import annotations

import sys
import time

import faiss
import numpy as np

from bench.components import bench_settings, eval_questions, real_embedder
from bench.synthetic import chunk_vectors, make_corpus, sentence_pool
from index.dense import (
    HNSW_EF_CONSTRUCTION,
    HNSW_EF_SEARCH,
    HNSW_M,
    IVF_NPROBE,
    IVF_TRAINING_POINTS_PER_LIST,
    ivf_lists,
)

K = 10
FETCH = 90  # what the retriever asks for: candidate_k x (variants + 1)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(a) & set(b)) / K for a, b in zip(found, truth, strict=True)]))


def _latency_ms(
    index: faiss.Index, queries: np.ndarray, params: faiss.SearchParameters | None
) -> tuple[float, float]:
    faiss.omp_set_num_threads(1)
    times = []
    for query in queries:
        started = time.perf_counter()
        index.search(query[None], FETCH, params=params)
        times.append((time.perf_counter() - started) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 99))


def main(n: int) -> None:
    settings = bench_settings()
    embedder = real_embedder(settings)
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    corpus = make_corpus(pool, embedder, 2_000, 7)
    vectors = chunk_vectors(corpus, n)
    queries = np.asarray(embedder.embed_queries(eval_questions()), dtype=np.float32)
    dimension = vectors.shape[1]
    faiss.omp_set_num_threads(2)
    exact = faiss.IndexFlatIP(dimension)
    exact.add(vectors)
    _, truth = exact.search(queries, K)
    print(
        f"{n:,} vectors, {len(queries)} queries; exact p50/p99 ms",
        _latency_ms(exact, queries, None),
    )

    lists = ivf_lists(n)
    started = time.perf_counter()
    ivf = faiss.index_factory(dimension, f"IVF{lists},Flat", faiss.METRIC_INNER_PRODUCT)
    faiss.omp_set_num_threads(2)
    size = min(n, lists * IVF_TRAINING_POINTS_PER_LIST)
    sample = vectors[np.sort(np.random.default_rng(0).choice(n, size, replace=False))]
    ivf.train(sample)
    ivf.add(vectors)
    print(f"IVF{lists},Flat built in {time.perf_counter() - started:.1f} s")
    for nprobe in sorted({16, 32, IVF_NPROBE, 128}):
        params = faiss.SearchParametersIVF(nprobe=nprobe)  # type: ignore[call-arg]
        faiss.omp_set_num_threads(2)
        _, found = ivf.search(queries, K, params=params)
        p50, p99 = _latency_ms(ivf, queries, params)
        mark = " (the product's)" if nprobe == IVF_NPROBE else ""
        recall = _recall(found, truth)
        print(f"  nprobe {nprobe}{mark}: recall@10 {recall:.3f}, {p50:.2f} / {p99:.2f} ms")

    started = time.perf_counter()
    hnsw = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    faiss.omp_set_num_threads(2)
    hnsw.add(vectors)
    params = faiss.SearchParametersHNSW(efSearch=max(HNSW_EF_SEARCH, 2 * FETCH))  # type: ignore[attr-defined]
    _, found = hnsw.search(queries, K, params=params)
    p50, p99 = _latency_ms(hnsw, queries, params)
    print(
        f"HNSW{HNSW_M} (efConstruction {HNSW_EF_CONSTRUCTION}) built in "
        f"{time.perf_counter() - started:.1f} s: recall@10 {_recall(found, truth):.3f}, "
        f"{p50:.2f} / {p99:.2f} ms"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
