"""A real uvicorn server on a free loopback port, in a thread of this process.

For the benchmarks and the tests: they need real HTTP (sockets, streaming, client
disconnects) while sharing this process's loaded answerer and inspecting the app's state.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI

HOST = "127.0.0.1"


def free_port() -> int:
    """A loopback port nothing listens on now (the OS picks it)."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_until_ready(base: str, *, alive: Callable[[], bool], within_s: float) -> None:
    """Poll `base`/readyz until it answers 200; RuntimeError if the server dies or is late."""
    deadline = time.monotonic() + within_s
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet
        if time.monotonic() > deadline or not alive():
            raise RuntimeError(f"the server at {base} did not become ready")
        time.sleep(0.05)


@contextmanager
def serve(
    app: FastAPI, *, ready_within_s: float = 60, log_level: str = "warning", **options: Any
) -> Iterator[str]:
    """Run `app` until the block ends; yields its base URL once /readyz answers 200.

    `options` go to uvicorn.Config (e.g. a test's log settings).
    """
    port = free_port()
    config = uvicorn.Config(app, host=HOST, port=port, log_level=log_level, **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="loopback-uvicorn", daemon=True)
    thread.start()
    base = f"http://{HOST}:{port}"
    try:
        wait_until_ready(base, alive=thread.is_alive, within_s=ready_within_s)
        yield base
    finally:
        server.should_exit = True
        thread.join(30)
