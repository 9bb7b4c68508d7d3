"""Service fixtures.

Fast tier: the real app, store and retriever over a copy of the bundled corpus, with the fake
embedder and a deterministic fake generator (no model loads). Slow tier: the real default
models, loaded once per session, and a real uvicorn server on loopback.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from index.embedder import Embedder
from index.ingest import build_index
from index.store import IndexStore
from index.textnorm import script_counts
from ragqa.config import Settings
from ragqa.models.registry import QWEN_0_5B
from ragqa.models.resolve import ensure_models
from ragqa.types import Language
from service.answer_stream import SentenceGate
from service.answering import Answerer
from service.app import create_app
from service.compose import build_answerer
from service.generation import load_generators
from service.generation.base import ChatMessage, Generator
from service.generation.openai_chat import OpenAIChatGenerator
from service.loopback import serve
from service.passages import Passage
from service.translation import LlmTranslator
from tests.conftest import FakeEmbedder
from tests.fakes import FakeGenerator

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus"


def passage_of_document(
    n: int, text: str, *, title: str | None = None, score: float = 0.5
) -> Passage:
    """Passage [n], the whole of a document of its own ("d<n>.txt", titled "d<n>" unless
    `title` is given), for the claim checks."""
    return Passage.of(n, f"d{n}.txt", f"d{n}.txt#0", title or f"d{n}", text, 0, len(text), score)


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
        "bilingual_max_chunks": 0,  # its tests turn the background translator on
    }
    return Settings.model_validate({**base, **overrides})


def streamed(
    passages: Sequence[Passage], language: Language, question: str, pieces: Sequence[str]
) -> str:
    """All the sentence gate sends while a model streams `pieces`, and when it is done."""
    gate = SentenceGate(passages, language, question)
    return "".join(gate.feed(p) for p in pieces) + gate.finish()


def cite_first_passage(messages: list[ChatMessage]) -> str:
    """The fake model's answer: the first passage's first sentence, cited as [1]."""
    user = messages[-1]["content"]
    first = user.split("[1] ", 1)[1].split("\n", 1)[0]
    sentence = first.split(") ", 1)[-1].split("。")[0].split(". ")[0]
    return f"{sentence} [1]"


class PacedGenerator:
    """A fake model that yields a sentence `word <count> [1].` every `interval_s` until
    `max_tokens`, observable by tests (the stream sends each sentence once the next one has
    begun). The count is written in letters (or Heavenly Stems after a Chinese word), so no two
    sentences repeat: a reply that repeats itself is cut as a loop. Without
    a `word`, it writes in the language its prompt asks for, as a real model mostly does ("slow"
    or "慢"): a sentence in another language would be held back until the end and translated.

    It waits on the request's stop event between tokens, so a stop ends it at once; `stopped`
    tells that happened, `finished` that the stream was left (normally or not). With `fail_at`,
    it raises `failure` instead of yielding that token.
    """

    model_id = "paced"

    def __init__(
        self,
        *,
        interval_s: float,
        word: str | None = None,
        fail_at: int | None = None,
        failure: Exception | None = None,
    ) -> None:
        self.interval_s = interval_s
        self.word = word
        self.fail_at = fail_at
        self.failure = failure or RuntimeError("the model crashed")
        self.calls: list[list[ChatMessage]] = []
        self.started = threading.Event()
        self.stopped = threading.Event()
        self.finished = threading.Event()
        self.yielded = 0

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        self.calls.append(messages)
        self.started.set()
        stop = stop or threading.Event()
        try:
            for i in range(max_tokens):
                if i == self.fail_at:
                    raise self.failure
                # One sentence per token: answers are streamed a checked sentence at a time.
                word = self._word(messages)
                yield f"{word} {_count(i, word)} [1]. "
                self.yielded += 1
                if stop.wait(self.interval_s):
                    self.stopped.set()
                    return
        finally:
            self.finished.set()

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return sum(len(m["content"].split()) for m in messages)

    def cached_tokens(self) -> int | None:
        return None

    def prefill(self, messages: list[ChatMessage]) -> None:
        """No prompt cache to fill."""

    def _word(self, messages: list[ChatMessage]) -> str:
        if self.word is not None:
            return self.word
        return "slow" if "Answer in English" in messages[-1]["content"] else "慢"


def _count(i: int, word: str) -> str:
    """`i` in digits of letters, or of Heavenly Stems after a Chinese word (not numerals, which
    the answer checks would take for invented figures)."""
    digits = "甲乙丙丁戊己庚辛壬癸" if script_counts(word)[0] else "abcdefghij"
    return "".join(digits[int(d)] for d in str(i))


def build_fake_answerer(
    settings: Settings,
    reply: Callable[[list[ChatMessage]], str] = cite_first_passage,
    *,
    generators: Sequence[Generator] | None = None,
    translate: Callable[[list[ChatMessage]], str] = lambda messages: "translated query",
    embedder: Embedder | None = None,
) -> Answerer:
    """The real store and retriever over a copy of the corpus, with fake models.

    `generators` replaces the default pool of FakeGenerator(reply), one per slot; `translate`
    is the reply of the query translator's model; `embedder` (the fake one unless given) is
    for tests of what is read before the model writes, with the real embedder.
    """
    embedder = embedder or FakeEmbedder()
    for path in CORPUS.iterdir():
        target = settings.collection_dir / path.name
        if not target.exists():
            shutil.copy(path, target)
    if not IndexStore.exists(settings.index_dir):
        build_index(settings, embedder, progress=False)
    from index.ingest import open_or_build

    store = open_or_build(settings, embedder)
    if generators is None:
        generators = [FakeGenerator(reply) for _ in range(settings.max_concurrent_generations)]
    translator = LlmTranslator(FakeGenerator(translate))
    return Answerer(
        settings, embedder=embedder, store=store, generators=generators, translator=translator
    )


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
def fake_app(settings: Settings) -> FastAPI:
    return create_app(settings, answerer_factory=build_fake_answerer)


def app_with_generators(settings: Settings, *generators: Generator) -> FastAPI:
    """The real app over the fake-embedder answerer whose model pool is `generators`."""
    return create_app(
        settings, answerer_factory=lambda s: build_fake_answerer(s, generators=generators)
    )


@pytest.fixture
def client(fake_app: FastAPI) -> Iterator[TestClient]:
    """The real app (lifespan run) over the fake-model answerer, once /readyz says ready."""
    with TestClient(fake_app) as test_client:
        deadline = time.monotonic() + 10
        while test_client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.01)
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
        generation_timeout_s=600,  # behaviour is tested here, not speed (that is the bench's)
    )


@pytest.fixture(scope="module")
def small_generator() -> Iterator[OpenAIChatGenerator]:
    """The small 0.5B model on the supervised engine, for tests of what a real engine returns
    (token probabilities, streaming), not of answer quality."""
    gguf = str(ensure_models(Settings(), [QWEN_0_5B.name], progress=False)[QWEN_0_5B.name])
    loaded = load_generators(
        Settings(generator=QWEN_0_5B.name, warm_prompt_cache=False),
        gguf,
        answer_slots=1,
        translator=False,
    )
    generator = loaded.answer[0]
    assert isinstance(generator, OpenAIChatGenerator)
    yield generator
    loaded.close()


@pytest.fixture(scope="session")
def real_answerer(real_settings: Settings) -> Iterator[Answerer]:
    """The default embedder and generator, loaded once for the session."""
    answerer = build_answerer(real_settings)
    yield answerer
    answerer.close()


@pytest.fixture(scope="session")
def live_server(real_settings: Settings, real_answerer: Answerer) -> Iterator[str]:
    """A real uvicorn server on loopback serving the real answerer; yields its base URL."""
    with serve(create_app(real_settings, answerer=real_answerer)) as base:
        yield base
