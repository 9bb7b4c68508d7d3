"""The engine alone: llama.cpp's server without ragqa around it.

A second engine process started exactly as the service starts its own (same GGUF, same launch
values): the generation section's baseline, so that the difference it measures is only what
ragqa adds (retrieval, prompt building, its HTTP layer and stream); and the engine LlamaIndex
answers with in the peer section, so that both answerers generate alike.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from ragqa.config import Settings
from service.generation import ENGINE_MODEL_ALIAS, ChatMessage
from service.generation.engine import Engine, LaunchSpec
from service.generation.openai_chat import OpenAIChatGenerator


def decode_rate(pieces: int, ttft_s: float, total_s: float) -> float:
    """Pieces per second after the first, as the section measures both sides."""
    return (pieces - 1) / (total_s - ttft_s) if pieces > 1 and total_s > ttft_s else float("nan")


class EngineAlone:
    """llama.cpp's server on the service's GGUF with the service's context, threads and batch,
    one slot; driven over its own /v1/chat/completions stream by the client the service uses
    (greedy, `cache_prompt` on, the slot pinned), so its KV cache sees what the server's sees.
    """

    def __init__(self, model_path: str, settings: Settings) -> None:
        launch = LaunchSpec(
            model_path=model_path,
            slots=1,
            ctx=settings.n_ctx,
            threads=settings.n_threads,
            alias=ENGINE_MODEL_ALIAS,
        )
        self.engine = Engine(
            launch=launch,
            start_timeout_s=settings.engine_start_timeout_s,
            hang_timeout_s=settings.engine_hang_timeout_s,
            read_timeout_s=settings.generation_timeout_s,
            retry_after_s=settings.retry_after_s,
        )
        status = self.engine.start()
        if status.state != "ready":
            self.engine.stop()
            raise RuntimeError(f"the engine alone did not start: {status.detail}")
        self.generator = OpenAIChatGenerator(self.engine, slot=0)

    def tokens(self, messages: Sequence[ChatMessage]) -> list[int]:
        """The prompt for `messages` as this engine sees it: its chat template, its tokenizer."""
        root = self.engine.base_url()
        client = self.engine.client
        prompt = client.post(root + "/apply-template", json={"messages": list(messages)})
        prompt.raise_for_status()
        tokens = client.post(
            root + "/tokenize", json={"content": prompt.json()["prompt"], "add_special": False}
        )
        tokens.raise_for_status()
        return [int(t) for t in tokens.json()["tokens"]]

    def complete(self, messages: Sequence[ChatMessage], max_tokens: int) -> tuple[float, float]:
        """(ms from the request to the first piece, pieces per second after it), greedy."""
        started = time.perf_counter()
        first = 0.0
        pieces = 0
        for _ in self.generator.stream(list(messages), max_tokens=max_tokens, temperature=0.0):
            pieces += 1
            if pieces == 1:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        return first * 1000, decode_rate(pieces, first, total)

    def cached_tokens(self) -> int:
        """Prompt tokens of the last request that the engine took from its KV cache."""
        return self.generator.cached_tokens() or 0

    def close(self) -> None:
        self.engine.stop()
