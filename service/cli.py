"""`ragqa serve`, and the other service commands (`ask`, `translate`, `feedback`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from fastapi import FastAPI
from rich.console import Console

from ragqa.config import Settings
from ragqa.errors import RagqaError
from service.access_log import log_config

err = Console(stderr=True, soft_wrap=True)  # one line per error, whatever the terminal


def _fail(error: Exception) -> typer.Exit:
    err.print(f"[bold red]error:[/] {error}")
    return typer.Exit(1)


def app_from_env() -> FastAPI:
    """Factory for `uvicorn --factory` and multi-worker serving: settings from the env."""
    from service.app import create_app

    return create_app(Settings())


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What `ragqa serve` tells uvicorn besides where to listen (the tests use it too).

    Forwarded headers are believed only from the configured proxies: otherwise any client could
    name its own address and escape the rate limit, or forge the access log. No `server`
    header, and no secret from a query string in the access log.
    """
    return {
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": list(settings.trusted_proxies) or None,
        "server_header": False,
        "log_config": log_config(),
    }


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address [RAGQA_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [RAGQA_PORT].")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes, each with its own models [RAGQA_WORKERS].")
    ] = None,
) -> None:
    """Serve the HTTP API, the widget and the demo page.

    Models are provisioned and the index built from the collection when missing. Problems with
    the index or the models are reported here, before the server starts, with exit code 1.
    """
    import uvicorn

    overrides = {k: v for k, v in {"host": host, "port": port, "workers": workers}.items() if v}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    if settings.workers > 1:
        uvicorn.run(
            "service.cli:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            **uvicorn_options(settings),
        )
        return
    from service.app import create_app
    from service.compose import build_answerer

    try:
        answerer = build_answerer(settings)
    except RagqaError as e:
        raise _fail(e) from e
    app = create_app(settings, answerer=answerer)
    err.print(f"ragqa serving on http://{settings.host}:{settings.port}")
    try:
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level="info",
            **uvicorn_options(settings),
        )
    finally:
        answerer.close()  # the engine stops with the server


def register(app: typer.Typer) -> None:
    from service.cli_ask import ask
    from service.cli_feedback import app as feedback_app
    from service.cli_translate import translate

    app.command()(serve)
    app.command()(ask)
    app.command()(translate)
    app.add_typer(feedback_app, name="feedback", help="Readers' ratings of answers.")
