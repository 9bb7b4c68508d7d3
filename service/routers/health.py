"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.deps import State
from service.schemas import HealthResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=HealthResponse)
def healthz() -> HealthResponse:
    """200 while the process lives."""
    return HealthResponse(status="ok")


@router.get("/readyz", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def readyz(state: State) -> HealthResponse | JSONResponse:
    """200 when the index and the models are loaded, else 503."""
    if state.pipeline is None:
        return JSONResponse(HealthResponse(status="loading").model_dump(), status_code=503)
    return HealthResponse(status="ok")
