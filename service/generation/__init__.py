"""Text generation back ends behind one interface (`Generator.stream`)."""

from __future__ import annotations

from pathlib import Path

from ragqa.config import Settings
from ragqa.errors import ConfigError
from service.generation.base import ChatMessage, Generator, complete

__all__ = ["ChatMessage", "Generator", "complete", "load_generator"]


def load_generator(settings: Settings, model: str, *, n_ctx: int | None = None) -> Generator:
    """Load `model` (a resolved GGUF path, HF folder or hub id) with the configured back end."""
    backend = settings.generator_backend
    if backend == "auto":
        backend = "llama_cpp" if Path(model).suffix == ".gguf" else "transformers"
    if backend == "llama_cpp":
        if Path(model).suffix != ".gguf":
            raise ConfigError(
                f"generator {model!r}: the llama_cpp back end needs a .gguf file; "
                "use generator_backend=transformers for a Hugging Face folder or id"
            )
        from service.generation.llama_cpp import LlamaCppGenerator

        return LlamaCppGenerator(model, n_ctx=n_ctx or settings.n_ctx, n_threads=settings.n_threads)
    from service.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(model)
