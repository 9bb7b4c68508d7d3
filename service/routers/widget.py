"""The embeddable widget and the demo page.

`/widget.js` is one script: the vendored sanitiser and markdown parser (service/static/vendor),
each run in a function whose `module` catches its export, then the widget, all inside one
function scope, so the host page's globals (its own `marked`, say) are neither read nor set.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

router = APIRouter(tags=["widget"], include_in_schema=False)

_STATIC = resources.files("service") / "static"
# (file under static/vendor, name the widget finds its export under in `ragqaVendor`)
VENDORED = (("purify.min.js", "DOMPurify"), ("marked.umd.js", "marked"))


def _asset(name: str) -> str:
    return (_STATIC / name).read_text("utf-8")


def _module(source: str, name: str) -> str:
    """A UMD file run as a CommonJS module, its export kept as `ragqaVendor[name]`."""
    lines = [line for line in source.splitlines() if not line.startswith("//# sourceMappingURL")]
    body = "\n".join(lines)
    return (
        "(function () {\nvar module = { exports: {} }, exports = module.exports;\n"
        f"{body}\nragqaVendor[{name!r}] = module.exports;\n}})();\n"
    )


@cache
def widget_bundle() -> str:
    """The widget with its vendored libraries, as served."""
    vendored = "".join(_module(_asset(f"vendor/{f}"), name) for f, name in VENDORED)
    return f"(function () {{\nvar ragqaVendor = {{}};\n{vendored}{_asset('widget.js')}}})();\n"


@router.get("/widget.js")
def widget_js() -> Response:
    return Response(
        widget_bundle(),
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


@router.get("/", response_class=HTMLResponse)
def demo_page() -> HTMLResponse:
    return HTMLResponse(_asset("demo.html"))
