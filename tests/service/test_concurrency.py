"""Issue 4's "Done when", concurrency: a long answer does not block the cheap routes, and
requests beyond the bounded queue are refused at once. Real models, real uvicorn, loopback.

`real_settings` has one generation slot and one queue place.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from httpx_sse import connect_sse
from prometheus_client.parser import text_string_to_metric_families

from ragqa.config import Settings

pytestmark = pytest.mark.slow

LONG_QUESTION = (
    "请逐条详细介绍第十三届医工协同科技创新学术年会的全部内容：每一位发言人是谁、"
    "他们分别讲了什么，以及“全国医工结合科技创新十大进展”的每一个项目。"
)
SEARCHES = ["太原 高峰論壇 協辦單位", "十大进展 遴选 候选项目", "Yingze campus conference"]


def queue_length(probe: httpx.Client) -> float:
    metrics = text_string_to_metric_families(probe.get("/metrics").text)
    family = next(f for f in metrics if f.name == "ragqa_generation_queue_length")
    return family.samples[0].value


def timed_ms(
    probe: httpx.Client, method: str, path: str, body: dict[str, object] | None = None
) -> float:
    started = time.perf_counter()
    response = probe.request(method, path, json=body)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, response.text
    return elapsed


def cheap_route_latencies(probe: httpx.Client) -> dict[str, list[float]]:
    return {
        "healthz": [timed_ms(probe, "GET", "/healthz") for _ in range(5)],
        "search": [timed_ms(probe, "POST", "/v1/search", {"query": q}) for q in SEARCHES],
    }


def test_cheap_routes_stay_fast_and_overflow_is_refused_while_generating(
    live_server: str, real_settings: Settings
) -> None:
    assert (real_settings.max_concurrent_generations, real_settings.max_queue) == (1, 1)
    body = {"question": LONG_QUESTION, "stream": True, "max_tokens": 512}
    queued_status: list[int] = []

    def wait_in_queue() -> None:
        response = httpx.post(
            f"{live_server}/v1/ask",
            json={"question": "What is the population of Chengdu?", "max_tokens": 1},
            timeout=600,
        )
        queued_status.append(response.status_code)

    with (
        httpx.Client(base_url=live_server, timeout=600) as holder,
        httpx.Client(base_url=live_server, timeout=10) as probe,
        connect_sse(holder, "POST", "/v1/ask", json=body) as source,
    ):
        opened = time.perf_counter()
        events = source.iter_sse()
        assert next(events).event == "passages"
        during_prefill = cheap_route_latencies(probe)

        queued = threading.Thread(target=wait_in_queue)
        queued.start()
        deadline = time.monotonic() + 10
        while queue_length(probe) < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert queue_length(probe) == 1, "the second request did not wait in the queue"
        refusals_ms = []
        for path, payload in [
            ("/v1/ask", {"question": "太原论坛在哪天举办？"}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "Hi?"}]}),
        ]:
            started = time.perf_counter()
            refused = probe.post(path, json=payload)
            refusals_ms.append((time.perf_counter() - started) * 1000)
            assert refused.status_code == 503, refused.text
            assert refused.headers["Retry-After"] == str(real_settings.retry_after_s)
            assert "busy" in refused.json()["detail"]

        assert next(events).event == "token"
        during_decode = cheap_route_latencies(probe)
        measured_until_s = time.perf_counter() - opened
        rest = list(events)

    # The long answer was still generating when the last measurement ended: its server-side
    # duration (or the time limit that ended it) is longer than the measurements took.
    final = rest[-1]
    if final.event == "done":
        generated_for_s = json.loads(final.data)["timings"]["total_ms"] / 1000
    else:
        assert "longer than" in json.loads(final.data)["detail"], final
        generated_for_s = real_settings.generation_timeout_s
    print(f"\nlong answer: {len(rest)} more events over {generated_for_s:.1f} s")
    print(f"during prefill (ms): {during_prefill}\nduring decode (ms): {during_decode}")
    print(f"503 refusals (ms): {refusals_ms}; measured until {measured_until_s:.1f} s")
    assert measured_until_s < generated_for_s, "the answer ended before the measurements did"
    for figures in (during_prefill, during_decode):
        assert max(figures["healthz"]) < 1000 and max(figures["search"]) < 1000, figures
    assert max(refusals_ms) < 100, refusals_ms
    queued.join(600)
    assert queued_status == [200]  # the queued request was served once the slot was free
