"""Running a blocking answer in a worker thread while the event loop streams it out.

The model call never runs on the event loop. The generation slot is taken before the response
starts (so a full queue is a plain 503), held by the worker, and released when the worker ends;
a client that disconnects sets `stop`, which ends the generation at the next token.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass

import anyio

from ragqa.errors import RagqaError
from service.app import AppState
from service.pipeline import AskEvent, DoneEvent, RagPipeline


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """The worker failed; the stream ends with an error event carrying `detail`."""

    detail: str


_END = object()
log = logging.getLogger("ragqa.service")


@dataclass(frozen=True, slots=True)
class AskCall:
    question: str
    history: list[dict[str, str]]
    top_k: int | None
    max_tokens: int | None
    temperature: float | None


def _record(state: AppState, event: AskEvent) -> None:
    if isinstance(event, DoneEvent):
        state.metrics.observe_stages(event.result.timings)
        state.metrics.tokens.labels("prompt").inc(event.result.prompt_tokens)
        state.metrics.tokens.labels("completion").inc(event.result.completion_tokens)


async def admit(state: AppState) -> None:
    """Take a generation slot (waiting in the bounded queue) off the event loop."""
    state.metrics.queue_length.set(state.limiter.waiting + 1)
    try:
        await anyio.to_thread.run_sync(state.limiter.acquire, state.settings.generation_timeout_s)
    except RagqaError:
        state.metrics.rejected.labels("busy").inc()
        raise
    finally:
        state.metrics.queue_length.set(state.limiter.waiting)
    state.metrics.active_generations.set(state.limiter.active)


def ask_blocking(state: AppState, pipeline: RagPipeline, call: AskCall) -> DoneEvent:
    """Admission + answer for plain (non-streaming) requests, run in the thread pool."""
    with state.limiter.slot(state.settings.generation_timeout_s):
        state.metrics.active_generations.set(state.limiter.active)
        try:
            result = pipeline.ask(
                call.question,
                history=call.history,
                top_k=call.top_k,
                max_tokens=call.max_tokens,
                temperature=call.temperature,
            )
        finally:
            state.metrics.active_generations.set(state.limiter.active - 1)
    done = DoneEvent(result)
    _record(state, done)
    return done


async def stream_answer(
    state: AppState, pipeline: RagPipeline, call: AskCall
) -> AsyncIterator[AskEvent | StreamFailure]:
    """Events of one answer; the caller must have been admitted (see `admit`)."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[object] = asyncio.Queue()
    stop = threading.Event()

    def produce() -> None:
        try:
            for event in pipeline.ask_events(
                call.question,
                history=call.history,
                top_k=call.top_k,
                max_tokens=call.max_tokens,
                temperature=call.temperature,
                stop=stop,
            ):
                if stop.is_set():
                    return
                _record(state, event)
                loop.call_soon_threadsafe(events.put_nowait, event)
        except RagqaError as e:
            loop.call_soon_threadsafe(events.put_nowait, StreamFailure(str(e)))
        except Exception:  # any other failure still ends the stream cleanly and frees the slot
            log.exception("generation failed")
            loop.call_soon_threadsafe(events.put_nowait, StreamFailure("generation failed"))
        finally:
            state.limiter.release()
            state.metrics.active_generations.set(state.limiter.active)
            loop.call_soon_threadsafe(events.put_nowait, _END)

    threading.Thread(target=produce, name="ragqa-generate", daemon=True).start()
    try:
        while (item := await events.get()) is not _END:
            yield item  # type: ignore[misc]
    finally:
        stop.set()
