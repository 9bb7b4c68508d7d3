"""`/docs` (Swagger UI) and `/redoc`, served from this server: they work offline.

The pages' scripts and styles come from the `fastapi-standalone-docs` package, which ships
Swagger UI's and ReDoc's files (with their licences; its ReDoc build loads its logo from beside
the page instead of a CDN); FastAPI's own pages would load them from a CDN. Only the files are
used: the package's own helper patches FastAPI globally. The OpenAPI document also
gets the schemas that only Server-Sent Events carry, which FastAPI cannot find on its own:
routes refer to them as `#/components/schemas/<name>`.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from service.openai_schemas import ChatCompletionChunk
from service.schemas import ErrorEventData, PassagesEventData, TokenEventData

SWAGGER = "/docs"  # Swagger UI's files, under the page's own path
REDOC = "/redoc"  # ReDoc's, where its build looks for its logo: <page>/logo-mini.svg
FAVICON = "/docs/fastapi/favicon.png"
PAGES = (SWAGGER, REDOC)  # started by an inline script: their CSP allows it by hash
STREAM_SCHEMAS: tuple[type[BaseModel], ...] = (
    PassagesEventData,
    TokenEventData,
    ErrorEventData,
    ChatCompletionChunk,
)

router = APIRouter(include_in_schema=False)


def sse_content(*names: str) -> dict[str, Any]:
    """A `text/event-stream` entry of a route's 200 response: `data` is one of `names`."""
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in names]
    return {"text/event-stream": {"schema": {"oneOf": refs} if len(refs) > 1 else refs[0]}}


@router.get("/docs")
async def swagger_ui() -> HTMLResponse:
    return get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="ragqa API",
        swagger_js_url=f"{SWAGGER}/swagger-ui-bundle.js",
        swagger_css_url=f"{SWAGGER}/swagger-ui.css",
        swagger_favicon_url=FAVICON,
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from elsewhere
    )


@router.get("/redoc")
async def redoc() -> HTMLResponse:
    return get_redoc_html(
        openapi_url="/openapi.json",
        title="ragqa API",
        redoc_js_url=f"{REDOC}/redoc.standalone.js",
        redoc_favicon_url=FAVICON,
        with_google_fonts=False,
    )


def _add_stream_schemas(document: dict[str, Any]) -> None:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in STREAM_SCHEMAS:
        schema = model.model_json_schema(
            ref_template="#/components/schemas/{model}", mode="serialization"
        )
        for name, nested in schema.pop("$defs", {}).items():
            schemas.setdefault(name, nested)
        schemas[model.__name__] = schema


def install(app: FastAPI) -> None:
    """Serve the documentation pages and their files, and complete the OpenAPI document.

    The app must be created with `docs_url=None, redoc_url=None`.
    """
    static = resources.files("fastapi_standalone_docs") / "static"
    app.include_router(router)  # before the mounts: /docs and /redoc themselves are pages
    for prefix, folder in (("/docs/fastapi", "fastapi"), (SWAGGER, "swagger"), (REDOC, "redoc")):
        app.mount(prefix, StaticFiles(directory=str(static / folder)), name=f"docs-{folder}")
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_stream_schemas(generate())  # FastAPI caches it in app.openapi_schema
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
