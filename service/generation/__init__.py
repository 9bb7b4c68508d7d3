"""Text generation back ends behind one interface (`Generator.stream`), registered by name.

A back end turns the settings into `Generators`: the pooled answer generators, the query
translator's, the background translator's, and the engine they share, if any. Adding one is
a function and a line in `BACKENDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragqa.config import Settings
from ragqa.errors import ConfigError
from service.generation.base import ChatMessage, Generator, complete
from service.generation.engine import Engine, EngineStatus, LaunchSpec

__all__ = [
    "BACKENDS",
    "ChatMessage",
    "Engine",
    "EngineStatus",
    "Generator",
    "Generators",
    "backend_name",
    "complete",
    "load_generators",
]

# The name the embedded engine reports for the model, and that clients see.
ENGINE_MODEL_ALIAS = "ragqa-generator"


@dataclass
class Generators:
    """What the answer answerer generates with."""

    answer: list[Generator]
    translator: Generator | None
    engine: Engine | None = None
    # The bilingual index's translator, on a slot of its own, so that its work between
    # questions never evicts the query translator's cached preamble nor holds its lock. None:
    # the bilingual index shares the query translator's.
    background: Generator | None = None

    def close(self) -> None:
        if self.engine is not None:
            self.engine.stop()


def _engine_generators(
    engine: Engine, answer_slots: int, translator: bool, background: bool
) -> Generators:
    from service.generation.openai_chat import OpenAIChatGenerator

    answer: list[Generator] = [OpenAIChatGenerator(engine, slot=i) for i in range(answer_slots)]
    slot = answer_slots
    translate = OpenAIChatGenerator(engine, slot=slot) if translator else None
    slot += 1 if translator else 0
    behind = OpenAIChatGenerator(engine, slot=slot) if background else None
    return Generators(answer, translate, engine, behind)


def _engine_options(settings: Settings) -> dict[str, float]:
    return {
        "start_timeout_s": settings.engine_start_timeout_s,
        "hang_timeout_s": settings.engine_hang_timeout_s,
        "read_timeout_s": settings.generation_timeout_s,
        "retry_after_s": settings.retry_after_s,
    }


def _llama_cpp(
    settings: Settings, model: str | None, answer_slots: int, translator: bool, background: bool
) -> Generators:
    """llama.cpp's server on a GGUF file, started and supervised here (the default)."""
    if model is None or Path(model).suffix.lower() != ".gguf":
        raise ConfigError(
            f"generator {model!r}: the llama_cpp back end needs a .gguf file; "
            "use generator_backend=transformers for a Hugging Face folder or id"
        )
    launch = LaunchSpec(
        model_path=model,
        slots=answer_slots + (1 if translator else 0) + (1 if background else 0),
        ctx=settings.n_ctx,
        threads=settings.n_threads,
        alias=ENGINE_MODEL_ALIAS,
    )
    engine = Engine(launch=launch, **_engine_options(settings))  # type: ignore[arg-type]
    engine.start()
    return _engine_generators(engine, answer_slots, translator, background)


def _openai(
    settings: Settings, model: str | None, answer_slots: int, translator: bool, background: bool
) -> Generators:
    """Any OpenAI-compatible server at RAGQA_GENERATOR_URL (vLLM, llama.cpp, Ollama, TGI)."""
    if not settings.generator_url:
        raise ConfigError("generator_backend=openai needs RAGQA_GENERATOR_URL")
    key = settings.generator_api_key
    engine = Engine(
        url=settings.generator_url,
        model=settings.generator_model,
        api_key=key.get_secret_value() if key else None,
        **_engine_options(settings),  # type: ignore[arg-type]
    )
    engine.start()
    return _engine_generators(engine, answer_slots, translator, background)


def _transformers(
    settings: Settings, model: str | None, answer_slots: int, translator: bool, background: bool
) -> Generators:
    """transformers in this process: for a GPU and a Hugging Face folder or id (no background
    translator: the bilingual index shares the query translator's model)."""
    from service.generation.transformers_backend import TransformersGenerator

    if model is None:
        raise ConfigError("the transformers back end needs RAGQA_GENERATOR")
    answer: list[Generator] = [TransformersGenerator(model) for _ in range(answer_slots)]
    return Generators(answer, TransformersGenerator(model) if translator else None)


# settings, model, answer slots, query translator?, background translator?
Backend = Callable[[Settings, str | None, int, bool, bool], Generators]
BACKENDS: dict[str, Backend] = {
    "llama_cpp": _llama_cpp,
    "openai": _openai,
    "transformers": _transformers,
}


def backend_name(settings: Settings, model: str | None = None) -> str:
    """The configured back end; `auto` picks a remote engine when a URL is set, llama.cpp for
    a GGUF file, transformers for anything else."""
    if settings.generator_backend != "auto":
        return settings.generator_backend
    if settings.generator_url:
        return "openai"
    if model is not None and Path(model).suffix.lower() != ".gguf":
        return "transformers"
    return "llama_cpp"


def load_generators(
    settings: Settings,
    model: str | None,
    *,
    answer_slots: int,
    translator: bool,
    background: bool = False,
) -> Generators:
    """Load `model` (a resolved GGUF path, HF folder or hub id; None for a remote engine that
    names its own) with the configured back end; `background` asks for the bilingual index's
    own translator where the back end can give one."""
    name = backend_name(settings, model)
    try:
        backend = BACKENDS[name]
    except KeyError:
        raise ConfigError(
            f"unknown generator back end {name!r}; valid: {', '.join(sorted(BACKENDS))}"
        ) from None
    return backend(settings, model, answer_slots, translator, background)
