"""Overload over a real uvicorn server on loopback, with a fake slow model.

More concurrent answers than slots + queue: the rest are refused with 503 and Retry-After at
once; health and search stay responsive while generations run; memory stays bounded under a
sustained mixed load. (The contract tests cover the single-refusal case in-process.)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from ragqa.config import Settings
from service.loopback import free_port, serve, wait_until_ready
from tests.service.conftest import REPO, PacedGenerator, app_with_generators, make_settings

QUESTION = "第十三届医工协同科技创新学术年会在哪里举行？"


def timed(call: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = call()
    return response, time.perf_counter() - started


# A server in its own process, so the client threads of the test do not compete with it for
# the GIL: the 503 latency measured is the server's, not this process's scheduling.
SLOW_SERVER = """
import sys
from pathlib import Path
import uvicorn
from tests.service.conftest import PacedGenerator, app_with_generators, make_settings

settings = make_settings(Path(sys.argv[1]), max_concurrent_generations=1, max_queue=2)
app = app_with_generators(settings, PacedGenerator(interval_s=0.05))
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


@contextmanager
def slow_server_process(tmp_path: Path) -> Iterator[str]:
    """The fake-model app with 1 slot and 2 queue places, ~50 ms a token, in a subprocess."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_SERVER, str(tmp_path), str(port)], cwd=REPO
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, alive=lambda: process.poll() is None, within_s=60)
        yield base
    finally:
        process.terminate()
        process.wait(10)


def test_answers_beyond_slots_and_queue_get_503_without_waiting_for_a_slot(tmp_path: Path) -> None:
    burst = 8
    body = {"question": QUESTION, "max_tokens": 20}  # each answer holds the slot ~1 s
    with slow_server_process(tmp_path) as base:
        start = threading.Barrier(burst)

        def ask() -> tuple[httpx.Response, float]:
            with httpx.Client(base_url=base, timeout=30) as own:
                own.get("/healthz")  # connected before the burst: only the answer is timed
                start.wait()
                return timed(lambda: own.post("/v1/ask", json=body))

        with ThreadPoolExecutor(burst) as pool:
            results = list(pool.map(lambda _: ask(), range(burst)))

    served = [(r, s) for r, s in results if r.status_code == 200]
    refused = [(r, s) for r, s in results if r.status_code == 503]
    assert len(served) == 3, [r.status_code for r, _ in results]  # 1 slot + 2 queue places
    assert len(refused) == burst - 3
    refusal_ms = sorted(s * 1000 for _, s in refused)
    print(f"\n503 refusal latency ms: {', '.join(f'{ms:.1f}' for ms in refusal_ms)}")
    for response, _ in refused:
        assert response.headers["Retry-After"] == str(Settings().retry_after_s)
        assert "busy" in response.json()["detail"]
    # The refusals did not wait for a slot: each came long before the running answer ended.
    # (How fast in milliseconds is a benchmark figure: `python -m bench load`.)
    first_served = min(s for _, s in served)
    assert first_served > 0.5  # the answers really did take the slow model's time
    assert max(refusal_ms) / 1000 < first_served / 4


def test_health_and_search_stay_responsive_while_generations_run(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, max_concurrent_generations=2, max_queue=4)
    generators = [PacedGenerator(interval_s=0.05) for _ in range(2)]
    app = app_with_generators(settings, *generators)
    body = {"question": QUESTION, "max_tokens": 30}  # ~1.5 s per answer
    query = {"query": "核医学", "top_k": 5}
    with (
        serve(app) as base,
        httpx.Client(base_url=base, timeout=30) as client,
        ThreadPoolExecutor(4) as pool,
    ):
        answers = [
            pool.submit(httpx.post, f"{base}/v1/ask", json=body, timeout=30) for _ in range(4)
        ]
        assert all(g.started.wait(5) for g in generators)
        generating = time.perf_counter()
        health: list[float] = []
        search: list[float] = []
        while not all(a.done() for a in answers[:2]):
            response, seconds = timed(lambda: client.get("/healthz"))
            assert response.status_code == 200
            health.append(seconds * 1000)
            response, seconds = timed(lambda: client.post("/v1/search", json=query))
            assert response.status_code == 200 and response.json()["results"]
            search.append(seconds * 1000)
            time.sleep(0.05)
        answer_ms = (time.perf_counter() - generating) * 1000
        statuses = [a.result().status_code for a in answers]
    assert statuses == [200] * 4
    assert len(health) >= 10
    print(
        f"\nwhile generating: /healthz median {statistics.median(health):.1f} ms, "
        f"max {max(health):.1f} ms; /v1/search median {statistics.median(search):.1f} ms, "
        f"max {max(search):.1f} ms ({len(health)} samples each); answers took {answer_ms:.0f} ms"
    )
    # Neither waits for a generation slot: each is answered in a small part of the time the
    # answers in flight take (a speed figure belongs to the load benchmark, not to a test).
    assert max(health) < answer_ms / 4
    assert max(search) < answer_ms / 4


def rss_mib() -> float:
    """This process's resident memory (the server runs in it), from /proc (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def test_memory_stays_bounded_under_sustained_load(tmp_path: Path) -> None:
    """300 mixed requests (answers, streams, searches, refusals, bad input) after a warm-up."""
    settings = make_settings(tmp_path, max_concurrent_generations=2, max_queue=2)
    generators = [PacedGenerator(interval_s=0.0, word="plain") for _ in range(2)]
    app = app_with_generators(settings, *generators)
    chat = {"messages": [{"role": "user", "content": QUESTION}], "stream": True}
    requests: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "/v1/ask", {"question": QUESTION, "max_tokens": 30}),
        ("POST", "/v1/ask", {"question": QUESTION, "max_tokens": 30, "stream": True}),
        ("POST", "/v1/chat/completions", {**chat, "max_tokens": 30}),
        ("POST", "/v1/search", {"query": "核医学 年会", "top_k": 10}),
        ("POST", "/v1/ask", {"question": "x" * 5000}),  # 413
        ("POST", "/v1/ask", {"question": "hi", "bogus": True}),  # 422
        ("GET", "/v1/documents", None),
        ("GET", "/metrics", None),
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
    ]

    def run(count: int, client: httpx.Client) -> dict[int, int]:
        statuses: dict[int, int] = {}

        def one(i: int) -> int:
            method, path, body = requests[i % len(requests)]
            return client.request(method, path, json=body).status_code

        with ThreadPoolExecutor(4) as pool:
            for status in pool.map(one, range(count)):
                statuses[status] = statuses.get(status, 0) + 1
        return statuses

    with serve(app) as base, httpx.Client(base_url=base, timeout=30) as client:
        run(100, client)  # warm-up: caches, pools and allocator arenas fill once
        before = rss_mib()
        started = time.perf_counter()
        statuses = run(300, client)
        elapsed = time.perf_counter() - started
        after = rss_mib()
    print(
        f"\n300 requests in {elapsed:.1f} s, statuses {dict(sorted(statuses.items()))}; "
        f"RSS {before:.1f} -> {after:.1f} MiB ({after - before:+.1f} MiB)"
    )
    assert set(statuses) <= {200, 413, 422, 503}
    assert statuses[200] >= 200
    assert after - before < 25
