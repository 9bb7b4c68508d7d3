"""`ragqa serve` in a process of its own, as it runs in production, for figures that a server
sharing the measuring process would distort (its GIL, its threads, its CPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ragqa.config import Settings
from service.loopback import HOST, free_port, wait_until_ready

REPO = Path(__file__).resolve().parents[1]


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment that makes a child process read exactly `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        text = value if isinstance(value, str) else json.dumps(value)
        env[f"RAGQA_{name.upper()}"] = text
    if settings.api_key is not None:
        env["RAGQA_API_KEY"] = settings.api_key.get_secret_value()
    return env


@dataclass(frozen=True)
class ServerProcess:
    base: str
    process: subprocess.Popen[bytes]
    ready_s: float  # from the process's start to the first 200 of /readyz


@contextmanager
def serve_process(settings: Settings, *, ready_within_s: float = 300) -> Iterator[ServerProcess]:
    """Start `ragqa serve` on a free loopback port; stop it when the block ends."""
    port = free_port()
    env = settings_env(settings.model_copy(update={"host": HOST, "port": port, "workers": 1}))
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "ragqa", "serve"],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://{HOST}:{port}"
        try:
            try:
                wait_until_ready(
                    base, alive=lambda: process.poll() is None, within_s=ready_within_s
                )
            except RuntimeError as e:
                log.seek(0)
                tail = log.read().decode("utf-8", "replace")[-2000:]
                raise RuntimeError(f"{e}; its output ended with:\n{tail}") from e
            yield ServerProcess(base, process, time.perf_counter() - started)
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
