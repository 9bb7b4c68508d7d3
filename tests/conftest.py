"""Shared fixtures: a deterministic fake embedder for fast tests, the real one for slow tests."""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from itertools import pairwise

import numpy as np
import pytest

from index.embedder import Embedder

# The bilingual index's background translator would share the CPU with every test that starts
# a server, here and in the servers' subprocesses; the tests of it turn it on themselves.
os.environ.setdefault("RAGQA_BILINGUAL_MAX_CHUNKS", "0")


class FakeEmbedder:
    """Hashed character uni- and bigrams, L2-normalised: deterministic in every process.

    Texts sharing characters get similar vectors, so search behaves sensibly; `embedded` records
    every text embedded, so tests can check what was (not) re-embedded. Tokens are characters.
    """

    def __init__(self, dimension: int = 64, model_id: str = "fake-embedder") -> None:
        self.dimension = dimension
        self.model_id = model_id
        self.embedded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float32)
        lowered = text.lower()
        for gram in [*lowered, *(a + b for a, b in pairwise(lowered))]:
            vector[zlib.crc32(gram.encode()) % self.dimension] += 1.0
        if not vector.any():
            vector[0] = 1.0
        return vector / np.linalg.norm(vector)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        self.embedded.extend(texts)
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(
            len(texts), self.dimension
        )

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(
            len(texts), self.dimension
        )

    def count_tokens(self, text: str) -> int:
        return len(text)


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder() -> Embedder:
    """The configured default embedder, provisioned into the real model cache once."""
    from ragqa.config import Settings
    from ragqa.models.resolve import ensure_models, load_configured_embedder

    settings = Settings()  # type: ignore[call-arg]
    ensure_models(settings, progress=False)
    return load_configured_embedder(settings)
