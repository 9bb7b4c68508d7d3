"""Section 3's figures: one timed answer, and the tables and targets made of the pairs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.report import Table, Target, median, ratio

TTFT_TARGET = 1.1
DECODE_TARGET = 0.9


@dataclass
class Timed:
    """One answer: which cache state it met, and what it cost."""

    question: str
    cache: str  # "cold", "warm prefix" or "repeat"
    prompt_tokens: int
    ttft_ms: float  # the generator's own: prompt ready -> first piece
    decode_tps: float  # pieces per second after the first
    e2e_ttft_ms: float = float("nan")  # client: request sent -> first token event
    cached_tokens: int | None = None  # prompt tokens the engine took from its KV cache
    stages: dict[str, float] = field(default_factory=dict)
    passages: list[dict[str, Any]] = field(default_factory=list)  # the server's, as streamed


def cache_table(server: list[Timed], alone: list[Timed]) -> Table:
    table = Table(
        "Time to first token and decode: /v1/ask (streaming) vs the engine alone, same prompts",
        [
            "KV cache",
            "answers",
            "prompt tokens",
            "from KV cache (server / engine alone)",
            "server TTFT ms (generator)",
            "engine alone TTFT ms",
            "TTFT ratio (medians)",
            "TTFT ratio (paired)",
            "server TTFT ms (end to end)",
            "server decode tok/s",
            "engine alone decode tok/s",
            "decode ratio",
        ],
    )
    for cache in ("cold", "warm prefix", "repeat"):
        s = [t for t in server if t.cache == cache]
        d = [t for t in alone if t.cache == cache]
        if not s or not d:
            continue
        s_ttft, d_ttft = median([t.ttft_ms for t in s]), median([t.ttft_ms for t in d])
        s_tps, d_tps = median([t.decode_tps for t in s]), median([t.decode_tps for t in d])
        table.rows.append(
            [
                cache,
                f"{len(s)} / {len(d)}",
                median([t.prompt_tokens for t in d]),
                f"{_cached(s)} / {_cached(d)}",
                s_ttft,
                d_ttft,
                ratio(s_ttft, d_ttft),
                _paired(s, d, "ttft_ms"),
                median([t.e2e_ttft_ms for t in s]),
                s_tps,
                d_tps,
                ratio(s_tps, d_tps),
            ]
        )
    return table


def _cached(rows: list[Timed]) -> str:
    counts = [t.cached_tokens for t in rows if t.cached_tokens is not None]
    return f"{median(counts):g}" if counts else "-"


def _paired(server: list[Timed], alone: list[Timed], what: str) -> float:
    """The median of server/alone over the pairs timed back to back (`_paired_pass`)."""
    pairs = zip(server, alone, strict=True)
    return median([ratio(getattr(s, what), getattr(a, what)) for s, a in pairs])


def stage_table(server: list[Timed]) -> Table:
    """Server-side stages of the timed answers, to show what precedes the first token."""
    stages = (
        "translate_ms",
        "embed_ms",
        "dense_ms",
        "lexical_ms",
        "retrieve_ms",
        "ttft_ms",
        "generate_ms",
        "total_ms",
    )
    table = Table("Server stages of /v1/ask (median ms)", ["KV cache", *stages])
    for cache in ("cold", "warm prefix", "repeat"):
        rows = [t.stages for t in server if t.cache == cache]
        if rows:
            table.rows.append([cache, *(median([r[s] for r in rows if s in r]) for s in stages)])
    return table


def targets(server: list[Timed], alone: list[Timed]) -> list[Target]:
    s = [t for t in server if t.cache == "warm prefix"]
    a = [t for t in alone if t.cache == "warm prefix"]
    if not s or not a:
        return []
    ttft = _paired(s, a, "ttft_ms")
    decode = _paired(s, a, "decode_tps")
    return [
        Target(
            "TTFT /v1/ask vs the engine alone (warm prefix, median of pairs)",
            f"<= {TTFT_TARGET:g}x",
            f"{ttft:.2f}x",
            ttft <= TTFT_TARGET,
            "" if ttft <= TTFT_TARGET else "see the stage table",
        ),
        Target(
            "decode /v1/ask vs the engine alone (warm prefix, median of pairs)",
            f">= {DECODE_TARGET:g}x",
            f"{decode:.2f}x",
            decode >= DECODE_TARGET,
            "",
        ),
    ]
