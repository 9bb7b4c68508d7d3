"""Load generator, run as a separate process: `python -m bench.loadclient '<json plan>'`.

Concurrent clients (asyncio, one httpx connection pool) send requests back to back until the
plan's duration is over or its request budget is spent; it prints one JSON line per request
(status, start offset, latency, first-token latency for streamed answers). It always stops by
itself: each request has a time limit and no request starts after the deadline.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


async def _one(
    client: httpx.AsyncClient, plan: dict[str, Any], body: dict[str, Any], t0: float
) -> dict[str, Any]:
    started = time.perf_counter()
    first = None
    retry_after = 0.0
    status: int | str
    try:
        async with client.stream("POST", plan["path"], json=body) as response:
            status = response.status_code
            retry_after = float(response.headers.get("Retry-After", 0))
            async for line in response.aiter_lines():
                if first is None and line.startswith("event: token"):
                    first = time.perf_counter() - started
    except httpx.HTTPError as error:
        status = f"error: {type(error).__name__}"
    return {
        "status": status,
        "start_s": round(started - t0, 4),
        "latency_s": round(time.perf_counter() - started, 4),
        "first_token_s": None if first is None else round(first, 4),
        "retry_after_s": retry_after,
    }


async def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    t0 = time.perf_counter()
    deadline = t0 + plan["duration_s"]
    budget = [plan["max_requests"]]
    results: list[dict[str, Any]] = []
    bodies = plan["bodies"]
    limits = httpx.Limits(max_connections=plan["concurrency"])
    async with httpx.AsyncClient(
        base_url=plan["url"], timeout=plan["timeout_s"], limits=limits
    ) as client:

        async def worker(n: int) -> None:
            i = n
            while time.perf_counter() < deadline and budget[0] > 0:
                budget[0] -= 1
                row = await _one(client, plan, bodies[i % len(bodies)], t0)
                results.append(row)
                i += plan["concurrency"]
                if row["status"] == 503 and plan["honour_retry_after"]:
                    # a polite client: it comes back when told to (or when the run ends)
                    wait = min(row["retry_after_s"], deadline - time.perf_counter())
                    await asyncio.sleep(max(0.0, wait))

        await asyncio.gather(*(worker(n) for n in range(plan["concurrency"])))
    return results


def main() -> None:
    plan = json.loads(sys.argv[1])
    for row in asyncio.run(run(plan)):
        print(json.dumps(row))


if __name__ == "__main__":
    main()
