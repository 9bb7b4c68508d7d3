"""The one small interface the index embeds text through, so it never depends on a model library.

The implementations (sentence-transformers, ONNX Runtime) live with the models, in
`ragqa/models/embedders.py`; they satisfy this protocol structurally.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors (inner product == cosine)."""

    model_id: str
    dimension: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def count_tokens(self, text: str) -> int: ...
