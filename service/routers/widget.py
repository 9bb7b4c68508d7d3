"""The embeddable widget and the demo page."""

from __future__ import annotations

from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["widget"], include_in_schema=False)

_STATIC = resources.files("service") / "static"


def _asset(name: str) -> str:
    return (_STATIC / name).read_text("utf-8")


@router.get("/widget.js")
def widget_js() -> Response:
    return Response(
        _asset("widget.js"),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/", response_class=HTMLResponse)
def demo_page() -> HTMLResponse:
    return HTMLResponse(_asset("demo.html"))
