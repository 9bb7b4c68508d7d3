"""Section 1's figures: what one corpus size measured, and the tables and targets made of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bench.report import Table, Target, median, percentile, ratio

RECALL_K = 10
TARGET_P50_MS = 20.0
TARGET_SIZE = 100_000
TARGET_RATIO = 1.1
SCALE_SIZE = 1_000_000  # issue 18's targets, in-process
SCALE_RECALL = 0.95
SCALE_SEARCH_MS = 20.0
SCALE_BM25_MS = 5.0


@dataclass
class SizeResult:
    size: int
    factory: str
    chunks_s: float
    dense_s: float
    lexical_s: float
    rss_mb: float
    recall: float
    inproc_ms: list[float]
    http_ms: list[float]  # stdlib keep-alive client: the service's own cost
    httpx_ms: list[float]  # the same request through httpx, a heavier client
    stages: dict[str, float]  # median ms of each in-process stage
    health_ms: float
    # share of the hybrid top k that BM25 over every query token would also return, by chunk and
    # by base chunk; None below index.lexical.PRUNE_FROM_CHUNKS (nothing left out there)
    pruned_agreement: tuple[float, float] | None = None


def latency_table(results: Sequence[SizeResult]) -> Table:
    table = Table(
        "Search latency (ms): /v1/search over HTTP vs answerer.retrieve in-process",
        [
            "chunks",
            "index",
            "in-process p50",
            "in-process p99",
            "HTTP p50",
            "HTTP p99",
            "HTTP / in-process (p50)",
            "httpx p50",
            "/healthz p50",
            "queries",
        ],
    )
    for r in results:
        http_p50 = median(r.http_ms)
        table.rows.append(
            [
                r.size,
                r.factory,
                median(r.inproc_ms),
                percentile(r.inproc_ms, 99),
                http_p50,
                percentile(r.http_ms, 99),
                ratio(http_p50, median(r.inproc_ms)),
                median(r.httpx_ms),
                r.health_ms,
                len(r.inproc_ms),
            ]
        )
    return table


def build_table(results: Sequence[SizeResult]) -> Table:
    table = Table(
        f"Index build (s), memory and dense recall@{RECALL_K}",
        [
            "chunks",
            "records s",
            "FAISS s",
            "BM25 s",
            "total s",
            "RSS delta MB",
            f"recall@{RECALL_K}",
        ],
    )
    for r in results:
        table.rows.append(
            [
                r.size,
                r.chunks_s,
                r.dense_s,
                r.lexical_s,
                r.chunks_s + r.dense_s + r.lexical_s,
                r.rss_mb,
                r.recall,
            ]
        )
    return table


def stage_table(results: Sequence[SizeResult]) -> Table:
    table = Table(
        "In-process stages (median ms): where a search spends its time",
        ["chunks", "embed query", "FAISS", "BM25", "fusion + records", "retrieve total"],
    )
    for r in results:
        s = r.stages
        known = s.get("translate_ms", 0) + s.get("embed_ms", 0) + s.get("dense_ms", 0)
        known += s.get("lexical_ms", 0)
        table.rows.append(
            [
                r.size,
                s.get("embed_ms"),
                s.get("dense_ms"),
                s.get("lexical_ms"),
                s.get("retrieve_ms", 0) - known,
                s.get("retrieve_ms"),
            ]
        )
    return table


def targets(results: Sequence[SizeResult]) -> list[Target]:
    found = []
    at_target = [r for r in results if r.size == TARGET_SIZE and r.http_ms]
    for r in at_target:
        p50 = median(r.http_ms)
        stages = r.stages
        found.append(
            Target(
                name=f"/v1/search p50 at {TARGET_SIZE:,} chunks",
                goal=f"<= {TARGET_P50_MS:g} ms",
                measured=f"{p50:.1f} ms",
                met=p50 <= TARGET_P50_MS,
                why=""
                if p50 <= TARGET_P50_MS
                else (
                    f"{p50 / TARGET_P50_MS:.2f}x the target; in-process stages: embed "
                    f"{stages.get('embed_ms', 0):.1f} ms, "
                    f"FAISS {stages.get('dense_ms', 0):.1f} ms, "
                    f"BM25 {stages.get('lexical_ms', 0):.1f} ms"
                ),
            )
        )
    for r in results:
        if not r.http_ms:
            continue
        value = ratio(median(r.http_ms), median(r.inproc_ms))
        gap = median(r.http_ms) - median(r.inproc_ms)
        found.append(
            Target(
                name=f"HTTP / in-process p50 at {r.size:,} chunks",
                goal=f"<= {TARGET_RATIO:g}x",
                measured=f"{value:.2f}x (+{gap:.1f} ms)",
                met=value <= TARGET_RATIO,
                why=""
                if value <= TARGET_RATIO
                else (
                    f"HTTP adds {gap:.1f} ms (a /healthz round trip takes {r.health_ms:.1f} ms): "
                    "uvicorn, FastAPI's parsing and validation and one thread-pool hop for the "
                    "model call, a fixed cost that weighs more the faster the search"
                ),
            )
        )
    for r in results:
        if r.size != SCALE_SIZE:
            continue
        search, bm25 = median(r.inproc_ms), r.stages.get("lexical_ms", float("nan"))
        at = f"at {SCALE_SIZE:,} chunks"
        found += [
            Target(
                name=f"dense recall@10 {at}",
                goal=f">= {SCALE_RECALL:g}",
                measured=f"{r.recall:.3f} ({r.factory})",
                met=r.recall >= SCALE_RECALL,
            ),
            Target(
                name=f"search p50 {at}, in-process",
                goal=f"<= {SCALE_SEARCH_MS:g} ms",
                measured=f"{search:.1f} ms",
                met=search <= SCALE_SEARCH_MS,
            ),
            Target(
                name=f"BM25 p50 {at}",
                goal=f"<= {SCALE_BM25_MS:g} ms",
                measured=f"{bm25:.2f} ms",
                met=bm25 <= SCALE_BM25_MS,
            ),
        ]
    return found
