"""Service fixtures.

Fast tier: the real app, store and retriever over a copy of the bundled corpus, with the fake
embedder and a deterministic fake generator (no model loads). Slow tier: the real default
models, loaded once per session, and a real uvicorn server on loopback.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from index.pipeline import build_index
from index.store import IndexStore
from ragqa.config import Settings
from service.app import create_app
from service.generation.base import ChatMessage
from service.generation.fake import FakeGenerator
from service.pipeline import LlmTranslator, RagPipeline
from tests.conftest import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"


def make_settings(tmp: Path, **overrides: Any) -> Settings:
    """Settings for a test: paths under `tmp`, nothing read from the environment."""
    (tmp / "corpus").mkdir(parents=True, exist_ok=True)
    base: dict[str, Any] = {
        "collection_dir": tmp / "corpus",
        "index_dir": tmp / "index",
        "chunk_size": 120,
        "min_dense_score": 0.0,
        "rate_limit_per_minute": 0,
        "api_key": "test-key",
    }
    return Settings.model_validate({**base, **overrides})


def cite_first_passage(messages: list[ChatMessage]) -> str:
    """The fake model's answer: the first passage's first sentence, cited as [1]."""
    user = messages[-1]["content"]
    first = user.split("[1] ", 1)[1].split("\n", 1)[0]
    sentence = first.split(") ", 1)[-1].split("。")[0].split(". ")[0]
    return f"{sentence} [1]"


def build_fake_pipeline(
    settings: Settings, reply: Callable[[list[ChatMessage]], str] = cite_first_passage
) -> RagPipeline:
    embedder = FakeEmbedder()
    for path in CORPUS.iterdir():
        target = settings.collection_dir / path.name
        if not target.exists():
            shutil.copy(path, target)
    if not IndexStore.exists(settings.index_dir):
        build_index(settings, embedder, progress=False)
    from index.pipeline import open_or_build

    store = open_or_build(settings, embedder)
    generators = [FakeGenerator(reply) for _ in range(settings.max_concurrent_generations)]
    translator = LlmTranslator(FakeGenerator(lambda m: "translated query"))
    return RagPipeline(
        settings, embedder=embedder, store=store, generators=generators, translator=translator
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fake_app(settings: Settings) -> FastAPI:
    return create_app(settings, pipeline_factory=build_fake_pipeline)


@pytest.fixture
def client(fake_app: FastAPI) -> Iterator[TestClient]:
    """The real app (lifespan run) over the fake-model pipeline."""
    with TestClient(fake_app) as test_client:
        yield test_client


# --- slow tier: the real default models ---------------------------------------------------


@pytest.fixture(scope="session")
def real_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("real")
    shutil.copytree(CORPUS, tmp / "corpus", dirs_exist_ok=True)
    return make_settings(
        tmp,
        chunk_size=Settings().chunk_size,
        min_dense_score=Settings().min_dense_score,
        max_queue=1,
    )


@pytest.fixture(scope="session")
def real_pipeline(real_settings: Settings) -> RagPipeline:
    """The default embedder and generator, loaded once for the session."""
    return RagPipeline.from_settings(real_settings)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(real_settings: Settings, real_pipeline: RagPipeline) -> Iterator[str]:
    """A real uvicorn server on loopback serving the real pipeline; yields its base URL."""
    port = free_port()
    app = create_app(real_settings, pipeline_factory=lambda _: real_pipeline)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        raise RuntimeError("live server did not become ready")
    yield base
    server.should_exit = True
    thread.join(10)
