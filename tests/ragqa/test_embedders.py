"""The embedder registry: back ends by name, `auto` resolved, unknown names listed."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ragqa.config import Settings
from ragqa.errors import ConfigError
from ragqa.models import embedders
from ragqa.models.embedders import (
    EMBEDDERS,
    LoadedEmbedder,
    embedder_backend_name,
    embedder_backend_names,
    load_embedder,
)


class _ConstantEmbedder:
    """A back end registered only for the test: every text is the same unit vector."""

    dimension = 2

    def __init__(self, model_path: str, batch_size: int) -> None:
        self.model_id = model_path
        self.batch_size = batch_size

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.tile(np.array([1.0, 0.0], dtype=np.float32), (len(texts), 1))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_documents(texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def test_an_unknown_back_end_is_a_config_error_listing_the_valid_ones(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_embedder("intfloat/multilingual-e5-small", backend="tensorflow", cache_dir=tmp_path)
    message = str(raised.value)
    assert "'tensorflow'" in message
    assert message.endswith("valid: auto, onnx, torch")


def test_the_settings_accept_the_same_values_and_default_as_before() -> None:
    assert Settings.model_fields["embedder_backend"].default == "auto"
    for name in ("auto", "onnx", "torch"):
        assert Settings(embedder_backend=name).embedder_backend == name
    assert embedder_backend_names() == ("auto", "onnx", "torch")


def test_auto_resolves_to_a_registered_back_end(tmp_path: Path) -> None:
    assert embedder_backend_name(str(tmp_path), "auto") == "onnx"
    assert embedder_backend_name("intfloat/multilingual-e5-small", "auto") == "torch"
    assert embedder_backend_name(str(tmp_path), "torch") == "torch"


def test_one_registration_makes_a_back_end_loadable_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def constant(model_path: str, batch_size: int, cache_dir: Path) -> LoadedEmbedder:
        return _ConstantEmbedder(model_path, batch_size)

    monkeypatch.setitem(EMBEDDERS, "constant", constant)
    embedder = load_embedder("any-model", backend="constant", batch_size=4, cache_dir=tmp_path)
    assert isinstance(embedder, _ConstantEmbedder)
    assert embedder.batch_size == 4
    assert embedder.embed_queries(["a", "b"]).shape == (2, 2)
    assert "constant" in embedders.embedder_backend_names()
