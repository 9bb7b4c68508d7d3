"""uvicorn's access log without secrets: values of key-like query parameters are redacted.

Keys belong in the `Authorization` header, and a key sent as `?api_key=...` is refused, but
the access log would still keep it; the filter sits on the `uvicorn.access` logger itself, so
every handler (a file, the console, a test's) sees the redacted line.
"""

from __future__ import annotations

import copy
import logging
import re
from typing import Any
from urllib.parse import unquote_plus

REDACTED = "REDACTED"
# Parameter names (lower case, without punctuation) that carry secrets, or end like one does.
_SECRET_NAMES = frozenset({"auth", "authorization", "sig", "signature", "credentials"})
_SECRET_ENDINGS = ("key", "token", "secret", "password", "passwd")


def _is_secret(name: str) -> bool:
    plain = re.sub(r"[^a-z0-9]", "", unquote_plus(name).lower())
    return plain in _SECRET_NAMES or plain.endswith(_SECRET_ENDINGS)


def redact_query(target: str) -> str:
    """`target` (path and query) with the value of every secret-looking parameter replaced."""
    path, mark, query = target.partition("?")
    if not mark:
        return target
    pairs = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        pairs.append(f"{name}={REDACTED}" if equals and _is_secret(name) else pair)
    return f"{path}?{'&'.join(pairs)}"


class RedactQuerySecrets(logging.Filter):
    """Rewrites the path argument of uvicorn's access records (client, method, path, ...)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's default logging configuration, with the filter on its access logger."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["redact_query_secrets"] = {
        "()": f"{__name__}.RedactQuerySecrets"
    }
    config["loggers"]["uvicorn.access"]["filters"] = ["redact_query_secrets"]
    return config
