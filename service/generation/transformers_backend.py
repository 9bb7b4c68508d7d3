"""transformers back end: Hugging Face folders or GGUF files, the path for GPUs.

On a CPU it dequantises a GGUF to fp32 and decodes far slower than llama.cpp, so llama.cpp
stays the CPU default; the back end exists for machines with an accelerator and for HF-only
models.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragqa.errors import GenerationFailed, ModelError
from service.generation.base import ChatMessage


class TransformersGenerator:
    """A causal LM loaded with transformers; a GGUF path is loaded through `gguf_file=`."""

    def __init__(self, model: str, *, device: str | None = None) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(model)
        kwargs: dict[str, Any] = {}
        source = model
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ModelError(f"{model}: GGUF file not found; run `ragqa models fetch`")
            source, kwargs["gguf_file"] = str(path.parent), path.name
        self.model_id = path.name if path.exists() else model
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
            loader: Any = AutoModelForCausalLM
            self.model: Any = loader.from_pretrained(
                source,
                torch_dtype=torch.float16 if self.device == "cuda" else torch.float32,
                **kwargs,
            ).to(self.device)
        except (OSError, ValueError) as e:
            raise ModelError(f"{model}: transformers could not load it ({e})") from e
        self.model.eval()

    def _encode(self, messages: list[ChatMessage]) -> Any:
        conversation: Any = list(messages)
        return self.tokenizer.apply_chat_template(
            conversation,
            add_generation_prompt=True,
            return_tensors="pt",
            return_dict=True,
        )

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
        grammar: str | None = None,
    ) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _StopWhenSet(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stop is not None and stop.is_set()

        inputs = self._encode(messages).to(self.device)
        streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self.model.generate(
                    **inputs,
                    max_new_tokens=max_tokens,
                    do_sample=temperature > 0,
                    temperature=temperature if temperature > 0 else None,
                    top_p=None,
                    top_k=None,
                    streamer=streamer,
                    stopping_criteria=StoppingCriteriaList([_StopWhenSet()]),
                    pad_token_id=self.tokenizer.eos_token_id,
                )
            except Exception as e:  # reported to the consumer below, not swallowed
                failure.append(e)
                streamer.end()

        worker = threading.Thread(target=run, daemon=True)
        worker.start()
        for piece in streamer:
            if piece:
                yield piece
        worker.join()
        if failure:
            raise GenerationFailed(f"transformers failed: {failure[0]}") from failure[0]

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        return int(self._encode(messages)["input_ids"].shape[-1])

    def cached_tokens(self) -> int | None:
        return None  # `generate` keeps no cache from one call to the next

    def prefill(self, messages: list[ChatMessage]) -> None:
        """Nothing to do: `generate` keeps no cache from one call to the next."""
