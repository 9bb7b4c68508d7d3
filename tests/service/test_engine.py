"""The generation engine in its own process: built for any x86-64 CPU, supervised, replaceable.

Real tier: llama.cpp's server from the pinned xllamacpp wheel on the small test GGUF (the
default GGUF in `test_engine_default_model`), killed with SIGKILL and stopped with SIGSTOP
while it answers, behind a real uvicorn server on loopback. The API process is this test
process: were the engine's fault to take it down, the test run would end here.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from ragqa.config import Settings
from ragqa.models.registry import QWEN_0_5B
from ragqa.models.resolve import ensure_models
from service.answering import Answerer
from service.app import create_app
from service.generation import ChatMessage, load_generators
from service.generation.engine import Engine, LaunchSpec
from service.loopback import serve
from service.state import AppState
from tests.service.conftest import build_fake_answerer, make_settings

QUESTION = "四川省医学会第二十一次核医学学术会议在哪里召开？"


def engine_info() -> str:
    return subprocess.run(
        [sys.executable, "-m", "service.generation.llama_server", "--system-info"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def test_the_engine_build_has_no_amx_and_runs_on_avx2() -> None:
    """The pinned wheel is compiled for AVX2 with neither AVX-512 nor AMX kernels, so it
    never takes llama.cpp's AMX path (which crashes on K-quants) and runs on AVX2-only CPUs."""
    info = engine_info()
    assert "AVX2 = 1" in info, info
    assert "AMX" not in info and "AVX512" not in info, info


def test_an_engine_that_cannot_load_its_model_fails_with_a_reason(tmp_path: Path) -> None:
    """A model llama.cpp cannot load leaves the engine `failed` with a message naming the file
    and the fix; nothing raises into the caller."""
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 64)
    engine = Engine(
        launch=LaunchSpec(str(broken), slots=1, ctx=512, threads=1, alias="x"),
        start_timeout_s=60,
    )
    try:
        status = engine.start()
        assert status.state == "failed"
        assert str(broken) in status.detail and "RAGQA_GENERATOR" in status.detail
        with pytest.raises(Exception, match="failed"):
            engine.base_url()
    finally:
        engine.stop()


# --- real tier -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_gguf() -> str:
    return str(ensure_models(Settings(), [QWEN_0_5B.name], progress=False)[QWEN_0_5B.name])


def engine_settings(tmp: Path, **overrides: Any) -> Settings:
    return make_settings(
        tmp,
        generator=QWEN_0_5B.name,
        warm_prompt_cache=False,
        cross_lingual=False,
        engine_hang_timeout_s=3,
        retry_after_s=2,
        **overrides,
    )


def engine_answerer(settings: Settings, model: str | None) -> Answerer:
    """The fake-embedder store with real generators on an engine (embedded or by URL)."""
    loaded = load_generators(settings, model, answer_slots=1, translator=False)
    answerer = build_fake_answerer(settings, generators=loaded.answer)
    answerer.engine = loaded.engine
    return answerer


@dataclass
class Live:
    base: str
    answerer: Answerer
    state: AppState


@pytest.fixture
def live(tmp_path: Path, small_gguf: str) -> Iterator[Live]:
    settings = engine_settings(tmp_path, max_queue=2)
    answerer = engine_answerer(settings, small_gguf)
    app = create_app(settings, answerer=answerer)
    try:
        with serve(app, ready_within_s=120) as base:
            yield Live(base, answerer, app.state.ragqa)
    finally:
        answerer.close()


def engine_pid(answerer: Answerer) -> int:
    assert answerer.engine is not None and answerer.engine._process is not None
    return answerer.engine._process.pid


def wait_ready(base: str, within_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        reply = httpx.get(f"{base}/readyz", timeout=5)
        if reply.status_code == 200:
            return dict(reply.json())
        time.sleep(0.2)
    raise AssertionError(f"not ready again within {within_s} s: {reply.json()}")


def engine_busy(answerer: Answerer, within_s: float = 60) -> None:
    """Wait until the engine is working on a request (reading its prompt or writing)."""
    assert answerer.engine is not None
    slots_url = answerer.engine.base_url() + "/slots"
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if any(s["is_processing"] for s in httpx.get(slots_url, timeout=5).json()):
            return
        time.sleep(0.01)
    raise AssertionError(f"the engine took no request within {within_s} s")


@contextmanager
def stream_in_flight(client: httpx.Client, live: Live) -> Iterator[Iterator[Any]]:
    """A streamed answer, opened; yields its event iterator once the engine is working on it.

    The answer streams whole checked sentences, so a short answer may have been generated in
    full before its first token event; the engine's own slot state says when it is in flight."""
    body = {"question": QUESTION, "stream": True, "max_tokens": 400}
    with connect_sse(client, "POST", f"{live.base}/v1/ask", json=body) as source:
        events = source.iter_sse()
        for event in events:
            if event.event == "passages":
                engine_busy(live.answerer)
                yield events
                return
    raise AssertionError("the answer ended before its passages")


def ask(base: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{base}/v1/ask", json={"question": QUESTION, **body}, timeout=120)


@pytest.mark.slow
def test_the_default_model_generates_on_this_cpu() -> None:
    """The packaged engine with the default GGUF answers on whatever CPU this is: on a CPU
    with AMX this is where a build with llama.cpp's AMX path crashed."""
    settings = Settings()
    model = str(ensure_models(settings, progress=False)[settings.generator])
    has_amx = "amx_tile" in Path("/proc/cpuinfo").read_text()
    print(f"\nCPU has AMX: {has_amx}; engine build: {engine_info().strip()}")
    loaded = load_generators(settings, model, answer_slots=1, translator=False)
    try:
        assert loaded.engine is not None and loaded.engine.status().state == "ready"
        messages: list[ChatMessage] = [
            {"role": "user", "content": "用一个词回答：中国的首都是哪座城市？"}
        ]
        answer = "".join(loaded.answer[0].stream(messages, max_tokens=16, temperature=0.0))
        assert "北京" in answer, answer
    finally:
        loaded.close()


@pytest.mark.slow
def test_a_killed_engine_fails_only_the_answer_in_flight(live: Live) -> None:
    base, answerer = live.base, live.answerer
    first_pid = engine_pid(answerer)
    with httpx.Client(timeout=60) as client:
        with stream_in_flight(client, live) as events:
            os.kill(first_pid, signal.SIGKILL)
            rest = list(events)
        assert rest[-1].event == "error", [e.event for e in rest]
        assert "engine" in json.loads(rest[-1].data)["detail"]

        # the API lives on: health, search and documents answer while the engine restarts
        assert client.get(f"{base}/healthz").status_code == 200
        assert client.post(f"{base}/v1/search", json={"query": "核医学"}).status_code == 200
        assert client.get(f"{base}/v1/documents").status_code == 200
        assert answerer.engine is not None
        if answerer.engine.status().state != "ready":
            refused = ask(base)
            assert refused.status_code == 503 and "Retry-After" in refused.headers

    ready = wait_ready(base)
    assert ready["engine"]["restarts"] == 1
    assert engine_pid(answerer) != first_pid
    answer = ask(base, max_tokens=24)
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"].strip()
    metrics = httpx.get(f"{base}/metrics").text
    assert "ragqa_engine_restarts 1.0" in metrics
    assert 'ragqa_engine_state{state="ready"} 1.0' in metrics


@pytest.mark.slow
def test_a_hung_engine_times_out_and_is_replaced(live: Live) -> None:
    base, answerer = live.base, live.answerer
    hung_pid = engine_pid(answerer)
    outcomes: list[int] = []
    with httpx.Client(timeout=120) as client:
        try:
            with stream_in_flight(client, live) as events:
                os.kill(hung_pid, signal.SIGSTOP)
                # a second question waits in the queue behind the hung one
                queued = threading.Thread(target=lambda: outcomes.append(ask(base).status_code))
                queued.start()
                started = time.monotonic()
                rest = list(events)
                waited = time.monotonic() - started
        finally:
            with suppress(ProcessLookupError):  # gone already if the supervisor killed it
                os.kill(hung_pid, signal.SIGCONT)
    assert rest[-1].event == "error" and "engine" in json.loads(rest[-1].data)["detail"]
    assert waited < 30, f"the hung answer took {waited:.0f} s to fail"
    queued.join(timeout=120)
    assert not queued.is_alive() and outcomes and outcomes[0] in (200, 503), outcomes
    ready = wait_ready(base)
    assert ready["engine"]["restarts"] >= 1
    assert engine_pid(answerer) != hung_pid
    assert ask(base, max_tokens=16).status_code == 200


@pytest.mark.slow
def test_a_client_that_leaves_during_prefill_frees_the_slot(live: Live) -> None:
    """The client disconnects while the engine is still reading the prompt (no token yet):
    the generation slot is free within a second, and the engine stops reading it at the end of
    its current prompt step."""
    base, answerer, limiter = live.base, live.answerer, live.state.limiter
    with httpx.Client(timeout=60) as client:
        body = {"question": QUESTION * 20, "stream": True, "max_tokens": 50}
        with client.stream("POST", f"{base}/v1/ask", json=body) as response:
            for line in response.iter_lines():
                if line.startswith("event: passages"):
                    break  # retrieval is done: the engine is reading the prompt now
        assert limiter.active == 1
        left = time.monotonic()
    while limiter.active and time.monotonic() - left < 5:
        time.sleep(0.02)
    freed_after = time.monotonic() - left
    assert limiter.active == 0
    assert freed_after < 1.0, f"the slot was held {freed_after:.1f} s after the client left"
    assert answerer.engine is not None
    slots = httpx.get(answerer.engine.base_url() + "/slots", timeout=5).json()
    deadline = time.monotonic() + 30
    while any(s["is_processing"] for s in slots) and time.monotonic() < deadline:
        time.sleep(0.1)
        slots = httpx.get(answerer.engine.base_url() + "/slots", timeout=5).json()
    assert not any(s["is_processing"] for s in slots)


@pytest.mark.slow
def test_a_remote_engine_by_url(tmp_path: Path, small_gguf: str) -> None:
    """RAGQA_GENERATOR_URL: the service generates with a server it did not start."""
    remote = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "service.generation.llama_server",
            "--model",
            small_gguf,
            "--alias",
            "remote-model",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert remote.stdout is not None
        address = json.loads(remote.stdout.readline())["address"]
        # Unjudged: the 0.5B test model judges this question unanswered, and this test is
        # about what the engine reports of an answer's prompt (the judgement: test_support.py).
        settings = engine_settings(tmp_path, generator_url=address + "/v1", support_threshold=None)
        answerer = engine_answerer(settings, None)
        app = create_app(settings, answerer=answerer)
        with closing(answerer), serve(app, ready_within_s=120) as base:
            ready = httpx.get(f"{base}/readyz").json()["engine"]
            assert ready == {
                "state": "ready",
                "detail": "",
                "restarts": 0,
                "model": "remote-model",
                "kind": "llama.cpp",
                "embedded": False,
            }
            answer = ask(base, max_tokens=24)
            assert answer.status_code == 200, answer.text
            usage = answer.json()["usage"]
            assert usage["prompt_tokens"] > 100
            # The same prompt again: the engine reports that it reused all of it but the end.
            again = ask(base, max_tokens=24).json()["usage"]
            assert again["prompt_tokens"] == usage["prompt_tokens"]
            assert again["cached_tokens"] >= again["prompt_tokens"] - 8
    finally:
        remote.kill()
        remote.wait()
