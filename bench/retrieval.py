"""Section 1: search latency over HTTP and in-process, index build time, memory and ANN recall.

Both paths embed the query with the real embedder (the same work), search the same snapshot
in hybrid mode with cross-lingual expansion off, and are timed alternately query by query, so
their ratio is measured under the same conditions.
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from unittest.mock import patch

import httpx
import numpy as np

import index.lexical as lexical_module
from bench.machine import settle_memory
from bench.report import Section, median
from bench.retrieval_tables import (
    RECALL_K,
    SizeResult,
    build_table,
    latency_table,
    stage_table,
    targets,
)
from bench.server import serve_answerer
from bench.synthetic import (
    SyntheticCorpus,
    base_of,
    build_snapshot,
    chunk_specs,
    chunk_vectors,
    make_corpus,
    sentence_pool,
)
from index.dense import DEFAULT_ANN_THRESHOLD, DenseIndex
from index.documents import Chunk
from index.embedder import Embedder
from index.ingest import expectation_for
from index.snapshot import IndexSnapshot
from index.store import IndexStore
from ragqa.config import Settings
from service.answering import Answerer

TOP_K = 5
_WARMUP = 5
_HEALTH_PINGS = 50


@dataclass(frozen=True)
class RetrievalOptions:
    sizes: tuple[int, ...]
    http_max_size: int  # larger snapshots are searched in-process only
    base_count: int  # chunks embedded for real
    rounds: int  # passes over the query list per size
    max_queries: int | None = None
    seed: int = 7


FULL = RetrievalOptions(
    sizes=(1_000, 10_000, 100_000),
    http_max_size=100_000,
    base_count=2_000,
    rounds=3,
)
# `RAGQA_BENCH_SCALE=1 python -m bench retrieval`: also 1,000,000 chunks, in-process (issue 18's
# targets). Opt-in: it needs most of a 24 GiB machine and adds minutes (README, Performance).
SCALE = replace(FULL, sizes=(*FULL.sizes, 1_000_000))
QUICK = RetrievalOptions(
    sizes=(1_000, 10_000), http_max_size=10_000, base_count=300, rounds=1, max_queries=40
)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the k largest inner products per query, by brute force in blocks."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(queries), 0), dtype=np.int64)
    block = 131_072
    for begin in range(0, len(vectors), block):
        scores = queries @ vectors[begin : begin + block].T
        ids = np.broadcast_to(np.arange(begin, begin + scores.shape[1]), scores.shape)
        all_scores = np.concatenate([best_scores, scores], axis=1)
        all_ids = np.concatenate([best_ids, ids], axis=1)
        keep = np.argsort(-all_scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(all_scores, keep, axis=1)
        best_ids = np.take_along_axis(all_ids, keep, axis=1)
    return best_ids


def recall_at_k(dense: DenseIndex, queries: np.ndarray, k: int) -> float:
    """Share of the exact top-k (by inner product) that the index's own search returns."""
    _, found = dense.search(queries, k)
    exact = dense.ids[exact_top_k(dense.vectors, queries, k)]
    overlaps = [
        len(set(a) & set(b)) / k for a, b in zip(found.tolist(), exact.tolist(), strict=True)
    ]
    return float(np.mean(overlaps))


def _answerer(settings: Settings, embedder: Embedder, snapshot: IndexSnapshot) -> Answerer:
    store = IndexStore(
        Path(tempfile.gettempdir()), snapshot, expected=None, ann_threshold=DEFAULT_ANN_THRESHOLD
    )
    return Answerer(settings, embedder=embedder, store=store, generators=[], translator=None)


class PlainClient:
    """A keep-alive `http.client` connection: the thinnest Python client, so the HTTP figure
    is the service's cost and not the client library's (httpx adds its own per request)."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=60)

    def request(self, method: str, path: str, body: dict[str, object] | None = None) -> bytes:
        payload = None if body is None else json.dumps(body).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        self.connection.request(method, path, payload, headers)
        response = self.connection.getresponse()
        content = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status}: {content[:200]!r}")
        return content

    def close(self) -> None:
        self.connection.close()


def _timed_ms(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def _time_paths(
    answerer: Answerer, base: str | None, queries: Sequence[str], rounds: int
) -> tuple[list[float], list[float], list[float], dict[str, list[float]]]:
    """Alternate in-process, plain-HTTP and httpx searches of each query; per-query ms."""
    inproc: list[float] = []
    plain: list[float] = []
    heavy: list[float] = []
    stages: dict[str, list[float]] = {}

    def in_process(query: str) -> None:
        started = time.perf_counter()
        retrieval = answerer.retrieve(query, TOP_K, mode="hybrid", cross_lingual=False)
        inproc.append((time.perf_counter() - started) * 1000)
        for stage, ms in retrieval.timings.items():
            stages.setdefault(stage, []).append(ms)

    if base is None:
        for _ in range(rounds):
            for query in queries:
                in_process(query)
        return inproc, plain, heavy, stages

    def body(query: str) -> dict[str, object]:
        return {"query": query, "top_k": TOP_K, "mode": "hybrid", "cross_lingual": False}

    client = PlainClient(base)
    try:
        with httpx.Client(base_url=base, timeout=60) as other:

            def over_plain(query: str) -> None:
                client.request("POST", "/v1/search", body(query))

            def over_httpx(query: str) -> None:
                other.post("/v1/search", json=body(query)).raise_for_status()

            for query in queries[:_WARMUP]:
                answerer.retrieve(query, TOP_K, mode="hybrid", cross_lingual=False)
                over_plain(query)
                over_httpx(query)
            for _ in range(rounds):
                for query in queries:
                    in_process(query)
                    plain.append(_timed_ms(partial(over_plain, query)))
                    heavy.append(_timed_ms(partial(over_httpx, query)))
    finally:
        client.close()
    return inproc, plain, heavy, stages


def _health_floor(base: str) -> float:
    """Median round trip of GET /healthz: the cost of HTTP itself on this machine."""
    client = PlainClient(base)
    try:
        return median(
            [_timed_ms(lambda: client.request("GET", "/healthz")) for _ in range(_HEALTH_PINGS)]
        )
    finally:
        client.close()


def _pruned_agreement(
    answerer: Answerer, corpus: SyntheticCorpus, queries: Sequence[str]
) -> tuple[float, float]:
    """What leaving common query tokens out (`LexicalIndex.query_tokens`) changes in a search:
    the mean share of the hybrid top k that BM25 over every token returns too, by chunk and by
    base chunk (the same chunk or a near-copy of it)."""

    def top(query: str) -> list[Chunk]:
        return [
            hit.chunk
            for hit in answerer.retrieve(query, TOP_K, mode="hybrid", cross_lingual=False).hits
        ]

    pruned = [top(query) for query in queries]
    with patch.object(lexical_module, "PRUNE_FROM_CHUNKS", sys.maxsize):
        exact = [top(query) for query in queries]
    pairs = [(p, e) for p, e in zip(pruned, exact, strict=True) if e]
    chunks = [len({c.chunk_id for c in p} & {c.chunk_id for c in e}) / len(e) for p, e in pairs]
    bases = [
        np.mean([base_of(c, corpus) in {base_of(x, corpus) for x in e} for c in p])
        for p, e in pairs
    ]
    return float(np.mean(chunks)), float(np.mean(bases))


def measure_size(
    corpus: SyntheticCorpus,
    size: int,
    settings: Settings,
    embedder: Embedder,
    queries: Sequence[str],
    *,
    rounds: int,
    over_http: bool,
) -> SizeResult:
    rss_before = settle_memory()
    specs = chunk_specs(corpus, size)
    vectors = chunk_vectors(corpus, size)
    snapshot, cost = build_snapshot(corpus, specs, vectors, expectation_for(settings, embedder))
    del specs, vectors
    rss_mb = (settle_memory() - rss_before) / 2**20
    recall = recall_at_k(snapshot.dense, embedder.embed_queries(list(queries)), RECALL_K)
    answerer = _answerer(settings, embedder, snapshot)
    if over_http:
        with serve_answerer(settings, answerer) as (base, _):
            inproc, http, heavy, stages = _time_paths(answerer, base, queries, rounds)
            health = _health_floor(base)
    else:
        inproc, http, heavy, stages = _time_paths(answerer, None, queries, rounds)
        health = float("nan")
    agreement = (
        _pruned_agreement(answerer, corpus, queries)
        if size >= lexical_module.PRUNE_FROM_CHUNKS
        else None
    )
    return SizeResult(
        size=size,
        factory=snapshot.dense.factory,
        chunks_s=cost.chunks_seconds,
        dense_s=cost.dense_seconds,
        lexical_s=cost.lexical_seconds,
        rss_mb=rss_mb,
        recall=recall,
        inproc_ms=inproc,
        http_ms=http,
        httpx_ms=heavy,
        stages={stage: median(values) for stage, values in stages.items()},
        health_ms=health,
        pruned_agreement=agreement,
    )


def run_retrieval(
    section: Section,
    settings: Settings,
    embedder: Embedder,
    queries: Sequence[str],
    options: RetrievalOptions,
) -> Section:
    settings = settings.model_copy(update={"cross_lingual": False})
    queries = list(queries)[: options.max_queries]
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    corpus = make_corpus(pool, embedder, options.base_count, options.seed)
    results = [
        measure_size(
            corpus,
            size,
            settings,
            embedder,
            queries,
            rounds=options.rounds,
            over_http=size <= options.http_max_size,
        )
        for size in options.sizes
    ]
    section.tables += [latency_table(results), build_table(results), stage_table(results)]
    section.targets += targets(results)
    section.notes += [
        f"Queries: the {len(queries)} questions of eval/sets/default.jsonl, {options.rounds} "
        f"pass(es) per size; each query is searched in-process and then over HTTP "
        f"(top_k {TOP_K}, mode hybrid, cross_lingual off), so both paths embed it (same work).",
        f"Chunks: {len(pool.sentences)} sentences of the cleaned collection recombined with a "
        f"seeded RNG; the first {len(corpus.base_specs)} embedded with the real embedder "
        f"({corpus.embed_seconds:.1f} s); every later chunk is a variant of one of them (sentences "
        f"reshuffled, one swapped) whose vector is the base vector plus noise of norm "
        f"{corpus.noise:.3f}, renormalised. The noise is calibrated so the copies sit at the "
        f"median cosine real variant embeddings have to their base ({corpus.variant_cosine:.3f}). "
        "Real text would spread more evenly than these clusters of copies, so HNSW recall on "
        "real data of the same size may differ.",
        "Build time is the in-memory index structures only (chunk records, FAISS, BM25 over "
        "pre-tokenised text); embedding and writing to disk are measured by the ingestion "
        "section. RSS delta is the process's resident memory after building the snapshot "
        "minus before (after garbage collection and malloc_trim): raw vectors are held twice "
        "(DenseIndex keeps them beside FAISS's own copy).",
        f"Recall@{RECALL_K}: the dense index's own search against brute-force inner product "
        f"over the same vectors, for the embedded eval questions. Below "
        f"{DEFAULT_ANN_THRESHOLD:,} vectors the index is exact (IDMap2,Flat).",
        "The HTTP server is uvicorn in a thread of the measuring process (log level warning). "
        "HTTP is timed with a keep-alive http.client connection (the thinnest Python client, "
        "so the figure is the service's cost) and, in its own column, with a keep-alive "
        "httpx.Client; /healthz (plain client) is the floor of one HTTP round trip.",
    ]
    section.notes += [
        f"BM25 leaves out query tokens found in over {lexical_module.COMMON_SHARE:.0%} of the "
        f"chunks from {lexical_module.PRUNE_FROM_CHUNKS:,} chunks; at {r.size:,} the hybrid "
        f"top {TOP_K} held {r.pruned_agreement[0]:.3f} of the chunks it returns when BM25 scores "
        f"every query token, and {r.pruned_agreement[1]:.3f} of its chunks were one of those or "
        "a near-copy of one (a variant of the same base chunk; mean over the queries)."
        for r in results
        if r.pruned_agreement is not None
    ]
    if any(size > options.http_max_size for size in options.sizes):
        section.notes.append(
            f"Sizes above {options.http_max_size:,} chunks are measured in-process only: the "
            "HTTP layer adds a size-independent cost (see the smaller sizes), and the full run "
            "must stay under the suite's time budget."
        )
    return section
