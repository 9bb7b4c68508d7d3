"""The ragqa app on a loopback uvicorn server in this process, for the HTTP figures.

In this process so the server shares the (large, slow to build) index snapshot with the
in-process measurements, and so its RSS and admission queue can be sampled directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from ragqa.config import Settings
from service.answering import Answerer
from service.app import create_app
from service.loopback import serve

READY_TIMEOUT_S = 120.0


@contextmanager
def serve_answerer(settings: Settings, answerer: Answerer) -> Iterator[tuple[str, FastAPI]]:
    """The ragqa app over an already loaded answerer: (base URL, app)."""
    app = create_app(settings, answerer=answerer)
    with serve(app, ready_within_s=READY_TIMEOUT_S) as base:
        yield base, app
