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
    """200 when the index and the models are loaded, the generation engine passed its
    self-test and the prompt preambles are prefilled; else 503 saying what is not ready
    (search, and answers, may still be served meanwhile)."""
    answerer = state.answerer
    if answerer is None:
        return JSONResponse(HealthResponse(status="loading").model_dump(), status_code=503)
    engine = EngineOut(**asdict(answerer.engine.status())) if answerer.engine else None
    if engine is not None and engine.state != "ready":
        body = HealthResponse(
            status="failed" if engine.state == "failed" else "unavailable",
            detail=f"the generation engine is {engine.state}"
            + (f": {engine.detail}" if engine.detail else ""),
            engine=engine,
        )
        headers = {"Retry-After": str(state.settings.retry_after_s)}
        return JSONResponse(body.model_dump(), status_code=503, headers=headers)
    if not state.warmed.is_set():
        body = HealthResponse(
            status="warming",
            detail="prefilling the prompt preambles, so that the first answer does not wait",
            engine=engine,
        )
        return JSONResponse(body.model_dump(), status_code=503, headers={"Retry-After": "5"})
    return HealthResponse(status="ok", engine=engine)
