"""The embedders the models run on: sentence-transformers (PyTorch) or ONNX Runtime.

Both implement the index's `Embedder` protocol (`index/embedder.py`) structurally, so the index
never imports a model library and this package never imports the index.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from ragqa.models.onnx_embedder import OnnxEmbedder


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


def uses_onnx(model_path: str, backend: Literal["auto", "onnx", "torch"]) -> bool:
    """`auto` takes ONNX Runtime for a local folder, the faster of the two on a CPU, and
    sentence-transformers for a Hugging Face id."""
    return backend == "onnx" or (backend == "auto" and Path(model_path).is_dir())


def load_embedder(
    model_path: str,
    *,
    backend: Literal["auto", "onnx", "torch"] = "auto",
    batch_size: int = 32,
    cache_dir: Path,
) -> SentenceTransformerEmbedder | OnnxEmbedder:
    """The embedder for `model_path` on the chosen back end.

    Both give the same vectors (checked when the ONNX graph is exported), so an index built
    with one is searched with the other.
    """
    if not uses_onnx(model_path, backend):
        return SentenceTransformerEmbedder(model_path, batch_size=batch_size)
    from ragqa.models.onnx_embedder import OnnxEmbedder, ensure_onnx_export

    return OnnxEmbedder(
        model_path, ensure_onnx_export(model_path, cache_dir), batch_size=batch_size
    )
