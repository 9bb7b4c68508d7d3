"""Liveness and readiness."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import State
from service.schemas import EngineOut, HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """200 while the process lives, whatever the generation engine is doing."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def readyz(state: State) -> HealthResponse | JSONResponse:
    """200 when the index and the models are loaded and the generation engine passed its
    self-test; else 503 saying what is not ready (search may still answer)."""
    answerer = state.answerer
    if answerer is None:
        return JSONResponse(HealthResponse(status="loading").model_dump(), status_code=503)
    if answerer.engine is None:
        return HealthResponse(status="ok")
    engine = EngineOut(**asdict(answerer.engine.status()))
    if engine.state == "ready":
        return HealthResponse(status="ok", engine=engine)
    body = HealthResponse(
        status="failed" if engine.state == "failed" else "unavailable",
        detail=f"the generation engine is {engine.state}"
        + (f": {engine.detail}" if engine.detail else ""),
        engine=engine,
    )
    return JSONResponse(
        body.model_dump(),
        status_code=503,
        headers={"Retry-After": str(state.settings.retry_after_s)},
    )
