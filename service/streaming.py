"""Running a blocking answer in a worker thread while the event loop streams it out.

The model call never runs on the event loop. The generation slot is taken before the response
starts (so a full queue is a plain 503) and handed at once to a worker thread, which owns it
and always releases it when it ends. The worker ends when the answer is complete, when it
fails, or when `stop` is set: by a client that disconnects, by the per-request time limit, or
by the run being dropped unread (a client that left while its request was queued).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import AsyncIterator
from contextlib import closing, suppress
from dataclasses import dataclass

import anyio
from starlette.requests import Request

from ragqa.errors import GenerationFailed, GenerationTimeout, RagqaError
from service.answering import Answerer, AskEvent, AskResult, DoneEvent
from service.state import AppState

log = logging.getLogger("ragqa.service")


@dataclass(frozen=True, slots=True)
class StreamFailure:
    """The answer failed; a stream ends with an error event, a whole answer with `error`."""

    error: RagqaError

    @property
    def detail(self) -> str:
        return str(self.error)


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


class AnswerRun:
    """One admitted answer, generating in its worker thread from the moment it is created."""

    def __init__(self, state: AppState, answerer: Answerer, call: AskCall) -> None:
        loop = asyncio.get_running_loop()
        self.limit_s = state.settings.generation_timeout_s
        self.deadline = loop.time() + self.limit_s
        self.stop = threading.Event()
        self.queue: asyncio.Queue[AskEvent | StreamFailure | None] = asyncio.Queue()
        # Dropped without being read (the response never started): the worker still stops.
        weakref.finalize(self, self.stop.set)
        worker = threading.Thread(
            target=_produce,
            args=(state, answerer, call, self.stop, self.queue, loop, self.limit_s),
            name="ragqa-generate",
            daemon=True,
        )
        worker.start()

    def close(self) -> None:
        """Stop generating; the worker releases the slot at the next token."""
        self.stop.set()

    async def events(self) -> AsyncIterator[AskEvent | StreamFailure]:
        """The answer's events, ending with a `DoneEvent` or a `StreamFailure`."""
        loop = asyncio.get_running_loop()
        try:
            while True:
                try:
                    item = await asyncio.wait_for(self.queue.get(), self.deadline - loop.time())
                except TimeoutError:
                    yield StreamFailure(
                        GenerationTimeout(f"answer took longer than {self.limit_s:g} s")
                    )
                    return
                if item is None:
                    return
                yield item
        finally:
            self.stop.set()


def _produce(
    state: AppState,
    answerer: Answerer,
    call: AskCall,
    stop: threading.Event,
    queue: asyncio.Queue[AskEvent | StreamFailure | None],
    loop: asyncio.AbstractEventLoop,
    limit_s: float,
) -> None:
    """The worker: run the answer, hand its events to the loop, release the slot at the end."""

    def deliver(item: AskEvent | StreamFailure | None) -> None:
        with suppress(RuntimeError):  # the loop is gone (server shut down): nobody to tell
            loop.call_soon_threadsafe(queue.put_nowait, item)

    try:
        # ask_events is a generator: closing it returns the model to its pool.
        answer = answerer.ask_events(
            call.question,
            history=call.history,
            top_k=call.top_k,
            max_tokens=call.max_tokens,
            temperature=call.temperature,
            stop=stop,
            timeout_s=limit_s,
        )
        with closing(answer):  # back in the pool before the slot is free
            for event in answer:
                if stop.is_set():
                    return
                _record(state, event)
                deliver(event)
    except RagqaError as e:
        deliver(StreamFailure(e))
    except Exception:  # any other failure still ends the stream cleanly and frees the slot
        log.exception("generation failed")
        deliver(StreamFailure(GenerationFailed("the generator failed; see the server log")))
    finally:
        state.limiter.release()
        state.metrics.active_generations.set(state.limiter.active)
        deliver(None)


async def start_answer(state: AppState, answerer: Answerer, call: AskCall) -> AnswerRun:
    """Admission, then the answer starts generating (raises `Busy` when there is no room)."""
    await admit(state)
    return AnswerRun(state, answerer, call)


async def answer_whole(
    state: AppState, answerer: Answerer, call: AskCall, request: Request
) -> AskResult | None:
    """The complete answer, or None when the client disconnected first (its answer stopped).

    Raises the answer's domain error (time limit, generator failure) for the error handler.
    """
    run = await start_answer(state, answerer, call)
    outcome: AskResult | StreamFailure | None = None
    try:
        async with anyio.create_task_group() as group:

            async def stop_when_client_leaves() -> None:
                while (await request.receive())["type"] != "http.disconnect":
                    pass
                group.cancel_scope.cancel()

            group.start_soon(stop_when_client_leaves)
            async for event in run.events():
                if isinstance(event, StreamFailure):
                    outcome = event
                elif isinstance(event, DoneEvent):
                    outcome = event.result
            group.cancel_scope.cancel()
    finally:
        run.close()
    if isinstance(outcome, StreamFailure):
        raise outcome.error
    return outcome
