"""The FastAPI application, built by `create_app(settings)`; models load in `lifespan`."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from ragqa import __version__
from ragqa.config import Settings
from ragqa.errors import (
    Busy,
    DocumentError,
    DocumentNotFound,
    DocumentTooLarge,
    EngineUnavailable,
    GenerationFailed,
    GenerationTimeout,
    InvalidRequest,
    NotReady,
    QuestionTooLong,
    RagqaError,
    RateLimited,
    StoreUnavailable,
    Unauthorized,
    UnsupportedDocumentType,
)
from service import docs
from service.answering import Answerer
from service.compose import build_answerer
from service.edge import BodySizeLimitMiddleware, SecurityHeadersMiddleware
from service.feedback import FeedbackStore
from service.limits import ClientRateLimiter, GenerationLimiter
from service.metrics import RequestMetricsMiddleware
from service.routers import ask, chat, documents, feedback, health, metrics, search, widget
from service.state import AppState

log = logging.getLogger("ragqa.service")

AnswererFactory = Callable[[Settings], Answerer]
# Room for multipart boundaries and headers around an upload of the largest allowed size.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


# Domain error -> (status, extra headers). Only this edge knows about HTTP.
def _status_for(error: RagqaError) -> tuple[int, dict[str, str]]:
    match error:
        case Busy(retry_after_s=seconds):
            return 503, {"Retry-After": str(seconds)}
        case RateLimited(retry_after_s=seconds):
            return 429, {"Retry-After": str(seconds)}
        case NotReady():
            return 503, {"Retry-After": "5"}
        case EngineUnavailable(retry_after_s=seconds):
            return 503, {"Retry-After": str(seconds)}
        case StoreUnavailable(retry_after_s=seconds):
            return 503, {"Retry-After": str(seconds)}
        case DocumentNotFound():
            return 404, {}
        case Unauthorized():
            return 403, {}
        case DocumentTooLarge() | QuestionTooLong():
            return 413, {}
        case UnsupportedDocumentType():
            return 415, {}
        case DocumentError() | InvalidRequest():
            return 422, {}
        case GenerationTimeout():
            return 504, {}
        case GenerationFailed():
            return 502, {}
    return 500, {}


def _warm_prompt_cache(answerer: Answerer, done: threading.Event | None = None) -> None:
    started = time.perf_counter()
    try:
        answerer.warm_prompt_cache()
    except RagqaError as e:  # a question will prefill it instead; not a reason to stop
        log.warning("could not prefill the prompt preamble: %s", e)
    else:
        log.info("prompt preamble prefilled in %.1f s", time.perf_counter() - started)
    finally:
        if done is not None:
            done.set()


JSON_BODY_EXPECTED = "the body must be JSON, sent with Content-Type: application/json"


def _is_json(content_type: str) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def validation_details(error: RequestValidationError) -> list[dict[str, object]]:
    """Location, message and kind of each validation error, without the input that failed.

    Echoing the input would make a 10 MB body a 10 MB error, and an input JSON cannot encode
    (NaN, an unpaired surrogate) would turn a client mistake into a 500.
    """
    return [{"type": e["type"], "loc": list(e["loc"]), "msg": e["msg"]} for e in error.errors()]


def create_app(
    settings: Settings,
    *,
    answerer_factory: AnswererFactory = build_answerer,
    answerer: Answerer | None = None,
) -> FastAPI:
    """Build the app. Tests pass small settings, or a factory that builds a lighter answerer.

    An answerer the factory builds belongs to the app, which stops its engine at shutdown; one
    passed as `answerer` belongs to the caller (a server's, or one that several apps share).
    """
    given = answerer
    state = AppState(
        settings=settings,
        limiter=GenerationLimiter(
            settings.max_concurrent_generations, settings.max_queue, settings.retry_after_s
        ),
        rate_limiter=ClientRateLimiter(settings.rate_limit_per_minute),
        feedback=FeedbackStore(settings.feedback_path),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio

        started = time.perf_counter()
        loaded = (
            given
            if given is not None
            else await anyio.to_thread.run_sync(answerer_factory, settings)
        )
        state.answerer = loaded
        log.info("loaded in %.1f s", time.perf_counter() - started)
        if loaded.bilingual is not None:  # translates only while no answer is generating
            limiter = state.limiter
            loaded.bilingual.idle = lambda: limiter.active == 0 and limiter.waiting == 0
            loaded.bilingual.start()
        if settings.warm_prompt_cache:
            threading.Thread(
                target=_warm_prompt_cache,
                args=(loaded, state.warmed),
                name="ragqa-warm",
                daemon=True,
            ).start()
            if loaded.engine is not None:  # a restarted engine has an empty prompt cache
                loaded.engine.on_ready(lambda: _warm_prompt_cache(loaded))
        else:
            state.warmed.set()
        try:
            yield
        finally:
            state.answerer = None
            if given is None:
                await anyio.to_thread.run_sync(loaded.close)

    app = FastAPI(
        title="ragqa",
        version=__version__,
        description="Cited answers from a document collection, offline.",
        lifespan=lifespan,
        docs_url=None,  # service.docs serves /docs and /redoc from local files
        redoc_url=None,
        responses={422: {"model": None}},
    )
    app.state.ragqa = state

    @app.exception_handler(RagqaError)
    async def domain_error(request: Request, error: RagqaError) -> JSONResponse:
        status, headers = _status_for(error)
        if status >= 500 and status not in (502, 503, 504):
            log.exception("unexpected domain error", exc_info=error)
        return JSONResponse({"detail": str(error)}, status_code=status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        """Where and why each field failed; the offending value is not echoed back."""
        details = validation_details(error)
        if not _is_json(request.headers.get("content-type", "")):
            for detail in details:
                if detail["loc"] == ["body"]:
                    detail["msg"] = JSON_BODY_EXPECTED
        return JSONResponse({"detail": details}, status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        if error.status_code == 400 and isinstance(error.__cause__, UnicodeDecodeError):
            error = HTTPException(400, "the request body is not valid UTF-8")
        return await http_exception_handler(request, error)

    for router in (health, search, ask, chat, documents, feedback, metrics, widget):
        app.include_router(router.router)
    docs.install(app)

    # The first added runs innermost: a 413 is counted, gets CORS headers and nosniff.
    app.add_middleware(
        BodySizeLimitMiddleware, max_bytes=settings.max_upload_bytes + MULTIPART_OVERHEAD_BYTES
    )
    app.add_middleware(RequestMetricsMiddleware, metrics=state.metrics)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "DELETE"],
        allow_headers=["Authorization", "Content-Type"],
        expose_headers=["Retry-After"],
    )
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=docs.PAGES)
    return app
