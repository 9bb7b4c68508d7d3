"""Request dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ragqa.config import Settings
from ragqa.errors import NotReady, RateLimited, Unauthorized
from service.answering import Answerer
from service.state import AppState

# Dependencies that do not block are `async def`: FastAPI runs a plain `def` dependency in
# its thread pool: a thread hop per dependency per request.


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.ragqa
    return state


State = Annotated[AppState, Depends(get_state)]


async def get_settings(state: State) -> Settings:
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_answerer(state: State) -> Answerer:
    if state.answerer is None:
        raise NotReady("the index and models are not loaded yet")
    return state.answerer


AnswererDep = Annotated[Answerer, Depends(get_answerer)]

_bearer = HTTPBearer(auto_error=False)


async def require_api_key(
    state: State,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Writes need `Authorization: Bearer <RAGQA_API_KEY>`, compared in constant time.

    With no key configured, writes are closed unless explicitly opened by a setting.
    """
    key = state.settings.api_key
    if key is None:
        if state.settings.allow_unauthenticated_writes:
            return
        raise Unauthorized("write endpoints are closed: no RAGQA_API_KEY is configured")
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), key.get_secret_value().encode()):
        raise Unauthorized("missing or wrong API key (Authorization: Bearer <key>)")


WriteAccess = Depends(require_api_key)


async def rate_limit(state: State, request: Request) -> None:
    client = request.client.host if request.client else "unknown"
    wait = state.rate_limiter.hit(client)
    if wait is not None:
        state.metrics.rejected.labels("rate_limit").inc()
        raise RateLimited(int(wait + 0.999))


RateLimit = Depends(rate_limit)
