"""Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from service.deps import State

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format.",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
)
def metrics(state: State) -> Response:
    """Request counts and latencies per route and stage, queue length, tokens generated, the
    generation engine's state and restarts, and the bilingual index's progress."""
    state.metrics.queue_length.set(state.limiter.waiting)
    state.metrics.active_generations.set(state.limiter.active)
    if state.answerer is not None and state.answerer.engine is not None:
        engine = state.answerer.engine.status()
        state.metrics.observe_engine(engine.state, engine.restarts)
    if state.answerer is not None and state.answerer.bilingual is not None:
        status = state.answerer.bilingual.status()
        state.metrics.observe_bilingual(
            status.chunks_translated,
            status.chunks_wanted,
            status.sentences_translated,
            status.translate_seconds,
        )
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
