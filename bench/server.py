"""A real uvicorn server on loopback, in a thread of this process, for the HTTP figures.

In this process so the server shares the (large, slow to build) index snapshot with the
in-process measurements, and so its RSS and admission queue can be sampled directly.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn
from fastapi import FastAPI

from ragqa.config import Settings
from service.app import create_app
from service.pipeline import RagPipeline

READY_TIMEOUT_S = 120.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL once /readyz answers 200."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="bench-uvicorn", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError(f"bench server on {base} did not become ready")
            time.sleep(0.05)
        yield base
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def serve_pipeline(settings: Settings, pipeline: RagPipeline) -> Iterator[tuple[str, FastAPI]]:
    """The ragqa app over an already loaded pipeline: (base URL, app)."""
    app = create_app(settings, pipeline_factory=lambda _: pipeline)
    with serve(app) as base:
        yield base, app
