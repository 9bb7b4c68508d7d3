"""Stateless API replicas on loopback: two `ragqa serve` processes share one Milvus and one
remote generation engine, configured by the example deployment file `docs/deploy/replica.env`.

Milvus is Milvus Lite's own gRPC server (`python -m milvus_lite server`), the same pymilvus API
as Milvus Standalone; the engine is llama.cpp's server with the small test model.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from ragqa.config import Settings
from ragqa.models.registry import QWEN_0_5B
from ragqa.models.resolve import ensure_models
from service.loopback import free_port

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "deploy" / "replica.env"
RAGQA = Path(sys.executable).with_name("ragqa")
READY_S = 180.0
SEEN_WITHIN_S = 5.0  # a write shows on the other replica within this (refresh is 1 s)
NOTE = (
    "2025年3月8日，复制节点测试会议在苏州召开，会议主题为多副本检索一致性，"
    "共有二十七名工程师参加了这次复制节点测试会议。"
)


def example_settings() -> dict[str, str]:
    """The example file's settings, KEY=VALUE lines without comments."""
    pairs = (
        line.split("=", 1)
        for line in EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    )
    return {key.strip(): value.strip() for key, value in pairs}


def wait_port(port: int, process: subprocess.Popen[str], within_s: float = 60) -> None:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        assert process.poll() is None, "the process exited before it listened"
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {within_s} s")


def wait_ready(base: str, process: subprocess.Popen[str], log: Path) -> None:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-4000:]
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{base} not ready after {READY_S} s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    """(replica A, replica B, API key), both serving the example configuration."""
    tmp = tmp_path_factory.mktemp("replicas")
    processes: list[subprocess.Popen[str]] = []
    try:
        milvus_port = free_port()
        milvus_args = ["--data-dir", str(tmp / "milvus"), "--port", str(milvus_port)]
        milvus = subprocess.Popen(
            [sys.executable, "-m", "milvus_lite", "server", "--host", "127.0.0.1", *milvus_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(milvus)
        wait_port(milvus_port, milvus)
        gguf = ensure_models(Settings(), [QWEN_0_5B.name], progress=False)[QWEN_0_5B.name]
        engine = subprocess.Popen(
            [sys.executable, "-m", "service.generation.llama_server", "--model", str(gguf)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        processes.append(engine)
        assert engine.stdout is not None
        engine_url = json.loads(engine.stdout.readline())["address"] + "/v1"

        example = example_settings()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
        env.update(example)
        env.update(
            RAGQA_MILVUS_URI=f"http://127.0.0.1:{milvus_port}",
            RAGQA_GENERATOR_URL=engine_url,
            RAGQA_HOST="127.0.0.1",
            RAGQA_COLLECTION_DIR=str(REPO / "corpus"),
            RAGQA_INDEX_DIR=str(tmp / "unused-index"),
            RAGQA_WARM_PROMPT_CACHE="false",
        )
        # The deployment's one-off job: fill the shared store before replicas start.
        build = subprocess.run(
            [str(RAGQA), "index", "build"], env=env, cwd=tmp, capture_output=True, text=True
        )
        assert build.returncode == 0, build.stderr
        bases = []
        for name in ("a", "b"):
            port = free_port()
            log = tmp / f"replica-{name}.log"
            with log.open("w") as out:
                replica = subprocess.Popen(
                    [str(RAGQA), "serve"],
                    env={**env, "RAGQA_PORT": str(port)},
                    cwd=tmp,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            processes.append(replica)
            bases.append(f"http://127.0.0.1:{port}")
            wait_ready(bases[-1], replica, log)
        yield bases[0], bases[1], example["RAGQA_API_KEY"]
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def found(base: str, query: str) -> list[str]:
    response = httpx.post(
        f"{base}/v1/search", json={"query": query, "mode": "lexical", "top_k": 3}, timeout=30
    )
    assert response.status_code == 200, response.text
    return [hit["doc_id"] for hit in response.json()["results"]]


def seen_after(base: str, query: str, doc_id: str, present: bool) -> float:
    """Seconds until `doc_id` is (or is no longer) found on `base`."""
    started = time.monotonic()
    while (doc_id in found(base, query)) != present:
        assert time.monotonic() - started < SEEN_WITHIN_S, f"{base} did not see the write"
        time.sleep(0.1)
    return time.monotonic() - started


def eventually(condition: Callable[[], bool]) -> None:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < SEEN_WITHIN_S, "not seen in time"
        time.sleep(0.1)


def listed(base: str) -> set[str]:
    documents = httpx.get(f"{base}/v1/documents", timeout=30).json()["documents"]
    return {d["doc_id"] for d in documents}


@pytest.mark.slow
@pytest.mark.e2e
def test_replicas_see_each_others_writes(deployment: tuple[str, str, str]) -> None:
    a, b, key = deployment
    headers = {"Authorization": f"Bearer {key}"}
    documents_a = httpx.get(f"{a}/v1/documents", timeout=30).json()
    assert documents_a == httpx.get(f"{b}/v1/documents", timeout=30).json()
    assert len(documents_a["documents"]) == 5  # the bundled collection, built once

    added = httpx.post(
        f"{a}/v1/documents",
        json={"doc_id": "replica-note", "text": NOTE},
        headers=headers,
        timeout=120,
    )
    assert added.status_code == 201, added.text
    seen_after(b, "复制节点测试会议", "replica-note.txt", present=True)
    eventually(lambda: "replica-note.txt" in listed(b))
    text = httpx.get(f"{b}/v1/documents/replica-note.txt", timeout=30).json()["text"]
    assert text == NOTE

    removed = httpx.delete(f"{b}/v1/documents/replica-note.txt", headers=headers, timeout=60)
    assert removed.status_code == 200, removed.text
    seen_after(a, "复制节点测试会议", "replica-note.txt", present=False)
    eventually(lambda: "replica-note.txt" not in listed(a))
    assert httpx.get(f"{a}/v1/documents/replica-note.txt", timeout=30).status_code == 404
    assert listed(a) == listed(b)


@pytest.mark.slow
@pytest.mark.e2e
def test_a_replica_answers_with_the_remote_engine(deployment: tuple[str, str, str]) -> None:
    _, b, _ = deployment
    ready = httpx.get(f"{b}/readyz", timeout=10).json()
    assert ready["engine"]["embedded"] is False and ready["engine"]["state"] == "ready"
    response = httpx.post(
        f"{b}/v1/ask",
        json={"question": "2024年核医学年会在哪里举办？", "max_tokens": 32},
        timeout=180,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"]
    assert body["refused"] or body["citations"]
