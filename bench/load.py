"""Section 4: concurrent clients against /v1/search and /v1/ask from a second process.

The server (in this process) is sampled every 100 ms while a client process
(`bench.loadclient`) keeps a fixed number of requests in flight: resident memory, generations
running and requests waiting for a generation slot.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from bench.machine import service_rss_bytes
from bench.report import Section, Table, median, percentile
from bench.server import serve_answerer
from ragqa.config import Settings
from service.answering import Answerer

SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    concurrency: int
    duration_s: float
    max_requests: int
    bodies: list[dict[str, Any]]
    honour_retry_after: bool
    timeout_s: float


@dataclass(frozen=True)
class LoadOptions:
    search_clients: tuple[int, ...]
    search_seconds: float
    ask_clients: int
    ask_seconds: float
    ask_max_tokens: int
    max_queue: int


FULL = LoadOptions(
    (1, 4, 16), 10.0, ask_clients=8, ask_seconds=60.0, ask_max_tokens=32, max_queue=4
)
QUICK = LoadOptions((1, 4), 3.0, ask_clients=3, ask_seconds=10.0, ask_max_tokens=8, max_queue=1)


@dataclass
class Samples:
    rss: list[int]
    active: list[int]
    waiting: list[int]


@contextmanager
def sampled(app: FastAPI) -> Iterator[Samples]:
    """Sample the server's RSS and admission queue until the block ends."""
    limiter = app.state.ragqa.limiter
    samples = Samples([], [], [])
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(SAMPLE_EVERY_S):
            samples.rss.append(service_rss_bytes())
            samples.active.append(limiter.active)
            samples.waiting.append(limiter.waiting)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def run_client(url: str, scenario: Scenario) -> list[dict[str, Any]]:
    """Run the load client process; one dict per request it sent."""
    plan = {
        "url": url,
        "path": scenario.path,
        "concurrency": scenario.concurrency,
        "duration_s": scenario.duration_s,
        "max_requests": scenario.max_requests,
        "bodies": scenario.bodies,
        "honour_retry_after": scenario.honour_retry_after,
        "timeout_s": scenario.timeout_s,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadclient", json.dumps(plan)],
        capture_output=True,
        text=True,
        check=True,
        timeout=scenario.duration_s + scenario.timeout_s + 60,
    )
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def scenarios(options: LoadOptions, questions: Sequence[str], settings: Settings) -> list[Scenario]:
    search = [{"query": q, "top_k": 5, "mode": "hybrid", "cross_lingual": False} for q in questions]
    ask = [{"question": q, "stream": True, "max_tokens": options.ask_max_tokens} for q in questions]
    runs = [
        Scenario(
            f"/v1/search x{n}",
            "/v1/search",
            n,
            options.search_seconds,
            100_000,
            search,
            honour_retry_after=False,
            timeout_s=30,
        )
        for n in options.search_clients
    ]
    runs.append(
        Scenario(
            f"/v1/ask x{options.ask_clients}",
            "/v1/ask",
            options.ask_clients,
            options.ask_seconds,
            10_000,
            ask,
            honour_retry_after=True,
            timeout_s=settings.generation_timeout_s + 10,
        )
    )
    return runs


def run_load(
    section: Section,
    settings: Settings,
    answerer: Answerer,
    questions: Sequence[str],
    options: LoadOptions,
) -> Section:
    # No preamble prefill at start: it would share the cores with the first search scenario.
    settings = settings.model_copy(
        update={
            "max_concurrent_generations": 1,
            "max_queue": options.max_queue,
            "warm_prompt_cache": False,
        }
    )
    table = Table(
        "Throughput, latency and admission under concurrent clients",
        [
            "scenario",
            "requests",
            "200",
            "503",
            "other",
            "200/s",
            "p50 s",
            "p99 s",
            "first token p50 s",
            "503 p50 ms",
            "queue max",
            "queue mean",
            "RSS MB start",
            "RSS MB max",
        ],
    )
    with serve_answerer(settings, answerer) as (base, app):
        for scenario in scenarios(options, questions, settings):
            rss_start = service_rss_bytes()
            with sampled(app) as samples:
                started = time.perf_counter()
                rows = run_client(base, scenario)
                elapsed = time.perf_counter() - started
            ok = [r for r in rows if r["status"] == 200]
            busy = [r for r in rows if r["status"] == 503]
            other = Counter(str(r["status"]) for r in rows if r["status"] not in (200, 503))
            if other:
                outcomes = ", ".join(f"{status} x{n}" for status, n in sorted(other.items()))
                section.notes.append(f"{scenario.name}, the 'other' outcomes: {outcomes}.")
            first = [r["first_token_s"] for r in ok if r["first_token_s"] is not None]
            table.rows.append(
                [
                    scenario.name,
                    len(rows),
                    len(ok),
                    len(busy),
                    len(rows) - len(ok) - len(busy),
                    len(ok) / elapsed,
                    median([r["latency_s"] for r in ok]),
                    percentile([r["latency_s"] for r in ok], 99),
                    median(first) if first else None,
                    median([r["latency_s"] * 1000 for r in busy]) if busy else None,
                    max(samples.waiting, default=0),
                    sum(samples.waiting) / len(samples.waiting) if samples.waiting else None,
                    rss_start / 2**20,
                    max(samples.rss, default=rss_start) / 2**20,
                ]
            )
    section.tables.append(table)
    section.notes += [
        "The client is a separate Python process (bench/loadclient.py: asyncio + httpx) on "
        "loopback keeping N requests in flight back to back; the server runs uvicorn in the "
        "measuring process with the real models (generation in the engine's child process), "
        "sampled every 100 ms; RSS is the measuring process's plus the engine's.",
        f"/v1/search: hybrid, cross_lingual off, the eval questions in turn, "
        f"{options.search_seconds:g} s per client count. /v1/ask: streamed, max_tokens "
        f"{options.ask_max_tokens}, {options.ask_seconds:g} s, one generation slot and a queue "
        f"of {options.max_queue}; a client told 503 waits its Retry-After "
        f"({settings.retry_after_s} s) before asking again. Latency of /v1/ask counts the whole "
        "streamed answer; '503 p50 ms' is how fast a refused request is told so.",
        "Per-client rate limiting is off in bench servers (one client process sends everything).",
    ]
    return section
