"""llama.cpp back end: GGUF files on the CPU, the default."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragqa.errors import GenerationFailed, ModelError
from service.generation.base import ChatMessage


class LlamaCppGenerator:
    """One llama.cpp context. Not thread-safe: callers hold a slot while streaming.

    llama-cpp-python keeps the previous prompt's KV cache and re-evaluates only the tokens
    after the longest common prefix, so a fixed system prompt is prefilled once, not per
    request, as long as this context serves one kind of prompt.
    """

    def __init__(self, model_path: str, *, n_ctx: int, n_threads: int, seed: int = 0) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        if not Path(model_path).is_file():
            raise ModelError(f"{model_path}: GGUF file not found; run `ragqa models fetch`")
        self.model_id = Path(model_path).name
        try:
            self.llama = Llama(
                model_path=model_path,
                n_ctx=n_ctx,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                n_batch=512,
                seed=seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise ModelError(f"{model_path}: llama.cpp could not load it ({e})") from e
        template = self.llama.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(f"{model_path}: the GGUF file carries no chat template")
        vocab = self.llama._model
        self.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=vocab.token_get_text(self.llama.token_eos()),
            bos_token=vocab.token_get_text(self.llama.token_bos()),
        )

    def _prompt(self, messages: list[ChatMessage]) -> tuple[list[int], list[str]]:
        """The model's own chat template applied, then tokenised once (special tokens on)."""
        rendered = self.formatter(messages=list(messages))  # type: ignore[arg-type]
        tokens = self.llama.tokenize(rendered.prompt.encode("utf-8"), add_bos=False, special=True)
        stops = rendered.stop if isinstance(rendered.stop, list) else [rendered.stop or ""]
        return tokens, [s for s in stops if s]

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
    ) -> Iterator[str]:
        tokens, stops = self._prompt(messages)
        try:
            chunks: Any = self.llama.create_completion(
                tokens,
                max_tokens=max_tokens,
                temperature=temperature,
                top_k=1 if temperature == 0 else 40,
                stop=stops,
                stream=True,
            )
            for chunk in chunks:
                if stop is not None and stop.is_set():
                    chunks.close()
                    return
                piece = chunk["choices"][0]["text"]
                if piece:
                    yield piece
        except (ValueError, RuntimeError) as e:
            raise GenerationFailed(f"llama.cpp failed: {e}") from e

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return len(self._prompt(messages)[0])

    def prefill(self, messages: list[ChatMessage]) -> None:
        # One generated token is the cheapest way through the public API; the cache then
        # holds the prompt (and that token), and the next prompt reuses the common prefix.
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass
