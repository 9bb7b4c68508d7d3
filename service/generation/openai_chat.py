"""A generator that talks to an engine over the OpenAI chat/completions protocol.

The same client serves the embedded llama.cpp server and any compatible remote engine (vLLM,
a llama.cpp server on a GPU host, Ollama, TGI). With llama.cpp it also uses what that server
adds to the protocol: a pinned slot per generator (`id_slot`), so each keeps its own prompt
prefix cached, and `/apply-template` + `/tokenize` for exact prompt token counts.
"""

from __future__ import annotations

import json
import math
import socket
import threading
from collections.abc import Iterator, Sequence
from contextlib import suppress
from typing import Any

import httpx
from httpx_sse import SSEError, connect_sse

from ragqa.errors import EngineUnavailable, GenerationFailed
from service.generation.base import ChatMessage
from service.generation.engine import Engine

_CANCEL_POLL_S = 0.1


def _shut(response: httpx.Response) -> None:
    """Close the response's socket from another thread, which a blocked read notices at once."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        with suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _watch(stop: threading.Event, done: threading.Event, response: httpx.Response) -> None:
    """Cut the connection as soon as `stop` is set, also while the engine is still prefilling
    (no token has come yet to notice it on), so the engine cancels the request and the slot is
    free within a poll interval."""
    while not done.is_set():
        if stop.wait(_CANCEL_POLL_S):
            _shut(response)
            return


class OpenAIChatGenerator:
    """One logical generator on an engine; the pool hands each to one request at a time."""

    def __init__(self, engine: Engine, *, slot: int | None = None, seed: int = 0) -> None:
        self.engine = engine
        self.slot = slot
        self.seed = seed
        self.model_id = engine.model_id
        self.last_prompt_tokens = 0
        self.last_cached_tokens: int | None = None
        # What llama.cpp's server said of the last request: prompt tokens evaluated
        # (`prompt_n`) and taken from its cache (`cache_n`), speeds.
        self.last_timings: dict[str, float] = {}
        # The likeliest first tokens of the last reply with their log-probabilities, when
        # they were asked for (choice_probabilities).
        self.last_top_logprobs: list[tuple[str, float]] = []

    def _body(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        top_logprobs: int = 0,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.engine.model_id,
            "messages": list(messages),
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": self.seed,
            "stream": True,
        }
        if top_logprobs:
            body["logprobs"] = True
            body["top_logprobs"] = top_logprobs
        if self.engine.kind != "llama.cpp":
            # llama.cpp reports usage anyway, and with this option set its server no longer
            # notices a client that leaves, so a cancelled prompt would run on to the end.
            body["stream_options"] = {"include_usage": True}
        else:
            body["cache_prompt"] = True
            # A progress chunk per prompt batch: llama.cpp notices a client that left only when
            # a write fails, so without them a cancelled prompt would be read to its end.
            body["return_progress"] = True
            if temperature == 0:
                body["top_k"] = 1
            if self.slot is not None and self.engine.pins_slots:
                body["id_slot"] = self.slot
        return body

    def stream(
        self,
        messages: list[ChatMessage],
        *,
        max_tokens: int,
        temperature: float,
        stop: threading.Event | None = None,
        grammar: str | None = None,
        top_logprobs: int = 0,
    ) -> Iterator[str]:
        url = self.engine.base_url() + "/v1/chat/completions"
        body = self._body(
            messages, max_tokens=max_tokens, temperature=temperature, top_logprobs=top_logprobs
        )
        if grammar is not None and self.engine.kind == "llama.cpp":
            # llama.cpp's own extension (GBNF); another engine gets the prompt alone, and
            # its reply is read as written.
            body["grammar"] = grammar
        stop = stop or threading.Event()
        done = threading.Event()
        self.last_timings, self.last_cached_tokens = {}, None
        self.last_top_logprobs = []
        try:
            with connect_sse(self.engine.client, "POST", url, json=body) as source:
                response = source.response
                if response.status_code >= 400:
                    response.read()
                    raise self._http_error(response)
                threading.Thread(
                    target=_watch, args=(stop, done, response), name="ragqa-cancel", daemon=True
                ).start()
                for sse in source.iter_sse():
                    if stop.is_set():
                        return
                    if sse.data.strip() == "[DONE]":
                        break
                    piece = self._piece(json.loads(sse.data))
                    if piece:
                        yield piece
        except (httpx.TransportError, SSEError) as e:
            if stop.is_set():  # our own cancellation cut the connection
                return
            if isinstance(e, httpx.TimeoutException):
                self.engine.report_failure(f"no answer from the engine within its timeout ({e})")
            else:
                self.engine.report_failure(f"connection to the engine broke ({e!r})")
            raise EngineUnavailable(
                "the generation engine stopped mid-answer; it is being restarted",
                self.engine.retry_after_s,
            ) from e
        finally:
            done.set()

    def _piece(self, chunk: dict[str, Any]) -> str:
        if chunk.get("usage"):
            usage = chunk["usage"]
            self.last_prompt_tokens = int(usage.get("prompt_tokens") or 0)
            details = usage.get("prompt_tokens_details") or {}
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
            self.last_cached_tokens = int(cached) if cached is not None else None
        if isinstance(chunk.get("timings"), dict):
            self.last_timings = chunk["timings"]
        if "error" in chunk:
            raise GenerationFailed(f"the engine failed: {chunk['error']}")
        choices = chunk.get("choices") or []
        if not choices:
            return ""
        logprobs = (choices[0].get("logprobs") or {}).get("content") or []
        if logprobs and not self.last_top_logprobs:  # the reply's first token
            self.last_top_logprobs = [
                (str(t.get("token", "")), float(t["logprob"]))
                for t in logprobs[0].get("top_logprobs") or []
                if t.get("logprob") is not None
            ]
        return str((choices[0].get("delta") or {}).get("content") or "")

    def choice_probabilities(
        self,
        messages: list[ChatMessage],
        choices: Sequence[str],
        *,
        stop: threading.Event | None = None,
    ) -> dict[str, float] | None:
        for _ in self.stream(messages, max_tokens=1, temperature=0.0, stop=stop, top_logprobs=10):
            pass
        mass = dict.fromkeys(choices, 0.0)
        for token, logprob in self.last_top_logprobs:
            word = token.strip().lower()
            if word in mass:
                mass[word] += math.exp(logprob)
        total = sum(mass.values())
        return {c: p / total for c, p in mass.items()} if total > 0 else None

    def _http_error(self, response: httpx.Response) -> Exception:
        try:
            detail = response.json().get("error", response.text)
            if isinstance(detail, dict):
                detail = detail.get("message", detail)
        except ValueError:
            detail = response.text
        text = str(detail)[:300]
        if response.status_code in (502, 503, 504):
            return EngineUnavailable(
                f"the generation engine is not available ({text})", self.engine.retry_after_s
            )
        return GenerationFailed(f"the engine refused the request: {response.status_code} {text}")

    def count_tokens(self, messages: list[ChatMessage]) -> int:
        """Exact prompt tokens: llama.cpp's template and tokenizer; elsewhere, the usage the
        engine reported for the last prompt this generator sent."""
        if self.engine.kind != "llama.cpp":
            return self.last_prompt_tokens
        root = self.engine.base_url()
        client = self.engine.client
        try:
            prompt = client.post(root + "/apply-template", json={"messages": list(messages)})
            prompt.raise_for_status()
            tokens = client.post(
                root + "/tokenize",
                json={"content": prompt.json()["prompt"], "add_special": False},
            )
            tokens.raise_for_status()
        except httpx.HTTPError as e:
            raise EngineUnavailable(
                f"the engine could not count tokens ({e})", self.engine.retry_after_s
            ) from e
        return len(tokens.json()["tokens"])

    def cached_tokens(self) -> int | None:
        if "cache_n" in self.last_timings:  # llama.cpp
            return int(self.last_timings["cache_n"])
        return self.last_cached_tokens  # OpenAI's usage.prompt_tokens_details (vLLM and others)

    def prefill(self, messages: list[ChatMessage]) -> None:
        # One generated token: the engine's slot then holds the prompt, and the next prompt
        # that starts the same way reuses it.
        for _ in self.stream(messages, max_tokens=1, temperature=0.0):
            pass
