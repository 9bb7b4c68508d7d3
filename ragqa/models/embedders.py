"""The embedders the models run on, registered by back-end name in `EMBEDDERS`.

Two are built in: sentence-transformers on PyTorch (`torch`) and ONNX Runtime (`onnx`). Each
implements the index's `Embedder` protocol (`index/embedder.py`) structurally, so the index
never imports a model library and this package never imports the index. Adding a back end is a
module with its class and one entry in `EMBEDDERS`; `embedder_backend` in the settings names it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ragqa.errors import ConfigError

AUTO = "auto"
"""Not a back end: picks `onnx` for a local folder and `torch` for a Hugging Face id."""


class LoadedEmbedder(Protocol):
    """What a back end's factory returns: the members of the index's `Embedder` protocol.

    Restated here because the models may not import the index; wherever a loaded embedder is
    handed to the index, mypy checks that the two agree.
    """

    model_id: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model; its own `query`/`document` prompts are applied by encode_*."""

    def __init__(self, model_path: str, *, batch_size: int = 32, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self.model_id = model_path
        self.batch_size = batch_size
        self.model = SentenceTransformer(model_path, device=device)
        dim = self.model.get_embedding_dimension()
        if dim is None:
            raise ValueError(f"{model_path}: model does not report an embedding dimension")
        self.dimension = int(dim)

    def _encode(self, texts: Sequence[str], *, query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encode = self.model.encode_query if query else self.model.encode_document
        vectors = encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=False)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, query=True)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False)["input_ids"])


EmbedderFactory = Callable[[str, int, Path], LoadedEmbedder]
"""(model path or hub id, batch size, model cache folder) -> a loaded embedder."""


def _sentence_transformers(model_path: str, batch_size: int, cache_dir: Path) -> LoadedEmbedder:
    """sentence-transformers on PyTorch: any hub id or folder it can load."""
    return SentenceTransformerEmbedder(model_path, batch_size=batch_size)


def _onnx(model_path: str, batch_size: int, cache_dir: Path) -> LoadedEmbedder:
    """ONNX Runtime on a graph exported once from the model folder and cached in `cache_dir`."""
    from ragqa.models.onnx_embedder import OnnxEmbedder, ensure_onnx_export

    return OnnxEmbedder(
        model_path, ensure_onnx_export(model_path, cache_dir), batch_size=batch_size
    )


EMBEDDERS: dict[str, EmbedderFactory] = {
    "onnx": _onnx,
    "torch": _sentence_transformers,
}


def embedder_backend_names() -> tuple[str, ...]:
    """Every value `embedder_backend` accepts: `auto` and the registered back ends."""
    return (AUTO, *sorted(EMBEDDERS))


def embedder_backend_name(model_path: str, backend: str) -> str:
    """The registered back end `backend` means for `model_path` (`auto` resolved).

    `auto` takes ONNX Runtime for a local folder, the faster of the two on a CPU, and
    sentence-transformers for a Hugging Face id. An unknown name is a `ConfigError` that lists
    the valid ones.
    """
    if backend == AUTO:
        return "onnx" if Path(model_path).is_dir() else "torch"
    if backend not in EMBEDDERS:
        raise ConfigError(
            f"unknown embedder back end {backend!r}; valid: {', '.join(embedder_backend_names())}"
        )
    return backend


def uses_onnx(model_path: str, backend: str) -> bool:
    """Whether `backend` runs `model_path` on ONNX Runtime (which needs an export first)."""
    return embedder_backend_name(model_path, backend) == "onnx"


def load_embedder(
    model_path: str,
    *,
    backend: str = AUTO,
    batch_size: int = 32,
    cache_dir: Path,
) -> LoadedEmbedder:
    """The embedder for `model_path` on the chosen back end.

    The built-in back ends give the same vectors (checked when the ONNX graph is exported), so
    an index built with one is searched with the other.
    """
    factory = EMBEDDERS[embedder_backend_name(model_path, backend)]
    return factory(model_path, batch_size, cache_dir)
