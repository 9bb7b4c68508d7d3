"""Pure-ASGI middleware at the edge of the app: security headers and the request body limit.

Plain ASGI, like `RequestMetricsMiddleware`: Starlette's `BaseHTTPMiddleware` would copy every
response (streams included) through a memory stream.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Collection

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Pages this app writes itself (the demo page): its script comes from this origin only, and it
# talks to this origin only. Styles may be inline (the demo page's <style>, and the widget's
# fallback for browsers without constructable stylesheets).
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)
# /docs and /redoc load Swagger UI and ReDoc from this origin (service.docs) and start them
# with an inline script, allowed by its hash only.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc\s*=)[^>]*>(.*?)</script>", re.S | re.I)


def _script_hashes(html: bytes) -> str:
    """CSP sources allowing exactly the inline scripts of `html`, by SHA-256."""
    return "".join(
        f" 'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )


class SecurityHeadersMiddleware:
    """`X-Content-Type-Options: nosniff` on every response; a CSP and a frame policy on pages.

    HTML pages may not be framed (clickjacking); `/widget.js` carries no frame or resource
    policy, so other sites can still load it. On `docs_paths`, the page is held until complete
    so that its inline scripts can be allowed by hash.
    """

    def __init__(self, app: ASGIApp, docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in self.docs_paths
        held: Message | None = None
        body = b""

        async def securing_send(message: Message) -> None:
            nonlocal held, body
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                content_type = dict(headers).get(b"content-type", b"")
                if not content_type.startswith(b"text/html"):
                    await send({**message, "headers": headers})
                    return
                headers.append((b"x-frame-options", b"DENY"))
                message = {**message, "headers": headers}
                if not docs:
                    headers.append((b"content-security-policy", PAGE_POLICY.encode()))
                    await send(message)
                    return
                held = message
                return
            if held is not None and message["type"] == "http.response.body":
                body += message.get("body", b"")
                if message.get("more_body", False):
                    return
                policy = DOCS_POLICY.format(hashes=_script_hashes(body))
                held["headers"].append((b"content-security-policy", policy.encode()))
                await send(held)
                held = None
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, securing_send)


class BodySizeLimitMiddleware:
    """Refuse request bodies over `max_bytes` with a JSON 413, declared or streamed.

    A declared `Content-Length` over the limit is refused before the app runs; a body sent
    without one (chunked) is cut off once it passes the limit, as the app reads it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _detail(self) -> str:
        return f"request body too large: the limit is {self.max_bytes} bytes"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            body = json.dumps({"detail": self._detail()}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"connection", b"close"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited_receive, send)
