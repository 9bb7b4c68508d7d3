"""The generation engine the service talks to, and its supervisor.

An `Engine` is an OpenAI-compatible server: by default llama.cpp's own server, started here in
a child process on loopback (`llama_server.py`), or a remote one given by URL. A supervisor
thread keeps it usable: it runs a short self-test before calling it ready, watches the child
(exit, or a health check unanswered for `hang_timeout_s`), kills and restarts it, and re-probes
a remote engine until it answers. A crash or hang of the engine therefore fails only the
answers in flight; the API process, search and document updates go on.
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import httpx

from ragqa.errors import EngineUnavailable

log = logging.getLogger("ragqa.engine")

EngineState = Literal["starting", "ready", "restarting", "failed", "stopped"]
EngineKind = Literal["llama.cpp", "openai"]
SELF_TEST: list[dict[str, str]] = [{"role": "user", "content": "Reply with the word OK."}]
_MAX_BACKOFF_S = 30.0


@dataclass(frozen=True, slots=True)
class EngineStatus:
    state: EngineState
    detail: str
    restarts: int
    model: str
    kind: EngineKind
    embedded: bool


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """How to start the embedded engine: a GGUF file on loopback, in a child process."""

    model_path: str
    slots: int
    ctx: int
    threads: int
    alias: str

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "service.generation.llama_server",
            "--model",
            self.model_path,
            "--slots",
            str(self.slots),
            "--ctx",
            str(self.ctx),
            "--threads",
            str(self.threads),
            "--alias",
            self.alias,
            "--parent-pid",
            str(os.getpid()),
        ]


class Engine:
    """An OpenAI-compatible engine, supervised; shared by every generator that uses it."""

    def __init__(
        self,
        *,
        launch: LaunchSpec | None = None,
        url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        start_timeout_s: float = 120.0,
        hang_timeout_s: float = 15.0,
        read_timeout_s: float = 120.0,
        retry_after_s: int = 5,
        health_interval_s: float = 1.0,
    ) -> None:
        if (launch is None) == (url is None):
            raise ValueError("an engine is either launched here or reached by URL")
        self.launch = launch
        self.url = url.rstrip("/").removesuffix("/v1") if url else None
        self.model_id = model or (launch.alias if launch else "")
        self.kind: EngineKind = "llama.cpp" if launch else "openai"
        self.pins_slots = launch is not None  # never pin slots on an engine others share
        self.start_timeout_s = start_timeout_s
        self.hang_timeout_s = hang_timeout_s
        self.retry_after_s = retry_after_s
        self.health_interval_s = health_interval_s
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=5.0, write=30.0, pool=30.0),
        )
        self.restarts = 0
        self._state: EngineState = "starting"
        self._detail = ""
        self._address = self.url or ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: collections.deque[str] = collections.deque(maxlen=30)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._on_ready: list[Callable[[], None]] = []
        self._thread: threading.Thread | None = None

    # --- what generators and routes use -----------------------------------------------
    def base_url(self) -> str:
        """The engine's root URL; raises `EngineUnavailable` while it is not ready."""
        with self._lock:
            if self._state != "ready":
                raise EngineUnavailable(
                    f"the generation engine is {self._state}"
                    + (f": {self._detail}" if self._detail else ""),
                    self.retry_after_s,
                )
            return self._address

    def status(self) -> EngineStatus:
        with self._lock:
            return EngineStatus(
                self._state,
                self._detail,
                self.restarts,
                self.model_id,
                self.kind,
                bool(self.launch),
            )

    def report_failure(self, detail: str) -> None:
        """A request saw the engine fail: check it now rather than at the next health tick."""
        log.warning("generation engine: %s", detail)
        self._wake.set()

    def on_ready(self, callback: Callable[[], None]) -> None:
        """Call `callback` (in its own thread) each time the engine becomes ready again."""
        self._on_ready.append(callback)

    # --- lifecycle ----------------------------------------------------------------------
    def start(self, wait_s: float | None = None) -> EngineStatus:
        """Start supervising; wait until the engine is ready or has failed once."""
        self._thread = threading.Thread(target=self._supervise, name="ragqa-engine", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + (self.start_timeout_s + 10 if wait_s is None else wait_s)
        with self._changed:
            self._changed.wait_for(
                lambda: self._state in ("ready", "failed") or time.monotonic() >= deadline,
                timeout=max(0.0, deadline - time.monotonic()),
            )
        return self.status()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        self._kill(graceful=True)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._set("stopped", "")
        self.client.close()

    def wait_ready(self, timeout_s: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self._state == "ready", timeout=timeout_s)

    # --- the supervisor -----------------------------------------------------------------
    def _set(self, state: EngineState, detail: str) -> None:
        with self._changed:
            self._state, self._detail = state, detail
            self._changed.notify_all()
        if state == "ready":
            for callback in self._on_ready:
                threading.Thread(target=callback, name="ragqa-engine-ready", daemon=True).start()

    def _supervise(self) -> None:
        backoff = 1.0
        while not self._stopping.is_set():
            try:
                self._bring_up()
            except EngineUnavailable as e:
                self._kill(graceful=False)
                if self._stopping.is_set():
                    return
                log.error("generation engine failed: %s (retrying in %.0f s)", e, backoff)
                self._set("failed", str(e))
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_S)
                continue
            backoff = 1.0
            self._set("ready", "")
            reason = self._watch()
            if self._stopping.is_set():
                return
            self._kill(graceful=False)
            self.restarts += 1
            log.error("generation engine %s; restarting it", reason)
            self._set("restarting", reason)

    def _bring_up(self) -> None:
        """Launch (or reach) the engine and run the self-test; raise with the reason if not."""
        if self.launch is not None:
            self._address = self._spawn(self.launch)
        else:
            self._probe_remote()
        self._self_test()

    def _spawn(self, launch: LaunchSpec) -> str:
        self._log.clear()
        process = subprocess.Popen(
            launch.command(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to the API is the API's to pass on
        )
        self._process = process
        assert process.stderr is not None and process.stdout is not None
        threading.Thread(
            target=self._drain, args=(process.stderr,), name="ragqa-engine-log", daemon=True
        ).start()
        first: list[bytes] = []
        reader = threading.Thread(target=lambda: first.append(process.stdout.readline()))  # type: ignore[union-attr]
        reader.daemon = True
        reader.start()
        reader.join(self.start_timeout_s)
        line = first[0].decode("utf-8", "replace").strip() if first else ""
        if not line:
            code = process.poll()
            raise EngineUnavailable(
                (
                    f"the engine did not start within {self.start_timeout_s:g} s"
                    if code is None
                    else f"the engine exited while loading ({self._describe_exit(code)})"
                )
                + self._log_tail(),
                self.retry_after_s,
            )
        message = json.loads(line)
        if "error" in message:
            raise EngineUnavailable(
                f"the engine could not load {launch.model_path}: {message['error']}; check the "
                "file (`ragqa models verify`) or set RAGQA_GENERATOR",
                self.retry_after_s,
            )
        return str(message["address"]).rstrip("/")

    def _probe_remote(self) -> None:
        try:
            if self.client.get(self._address + "/props", timeout=5.0).status_code == 200:
                self.kind = "llama.cpp"
            if not self.model_id:
                listing = self.client.get(self._address + "/v1/models", timeout=5.0)
                listing.raise_for_status()
                self.model_id = str(listing.json()["data"][0]["id"])
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as e:
            raise EngineUnavailable(
                f"the engine at {self._address} does not answer as an OpenAI-compatible server "
                f"({e}); check RAGQA_GENERATOR_URL",
                self.retry_after_s,
            ) from e

    def _self_test(self) -> None:
        """A few tokens with the configured model: loading is not proof that it generates."""
        try:
            reply = self.client.post(
                self._address + "/v1/chat/completions",
                json={
                    "model": self.model_id,
                    "messages": SELF_TEST,
                    "max_tokens": 4,
                    "temperature": 0.0,
                },
                timeout=self.start_timeout_s,
            )
            reply.raise_for_status()
            text = reply.json()["choices"][0]["message"]["content"]
        except (httpx.HTTPError, ValueError, KeyError, IndexError) as e:
            code = self._process.poll() if self._process is not None else None
            cause = f"it {self._describe_exit(code)}" if code is not None else f"{e!r}"
            raise EngineUnavailable(
                f"the engine's self-test (a few tokens from {self.model_id}) failed: {cause}"
                + self._log_tail(),
                self.retry_after_s,
            ) from e
        if not str(text).strip():
            raise EngineUnavailable(
                f"the engine's self-test got no text from {self.model_id}", self.retry_after_s
            )

    def _watch(self) -> str:
        """Block while the engine is healthy; return why it no longer is."""
        last_ok = time.monotonic()
        health = "/health" if self.kind == "llama.cpp" else "/v1/models"
        while not self._stopping.is_set():
            self._wake.wait(self.health_interval_s)
            self._wake.clear()
            if self._stopping.is_set():
                break
            if self._process is not None and (code := self._process.poll()) is not None:
                return self._describe_exit(code)
            try:
                ok = (
                    self.client.get(
                        self._address + health, timeout=min(2.0, self.hang_timeout_s)
                    ).status_code
                    == 200
                )
            except httpx.HTTPError:
                ok = False
            now = time.monotonic()
            if ok:
                last_ok = now
            elif now - last_ok >= self.hang_timeout_s:
                return f"stopped answering its health check for {now - last_ok:.0f} s"
        return "stopped"

    def _kill(self, *, graceful: bool) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        if graceful:
            process.terminate()
            try:
                process.wait(timeout=5)
                return
            except subprocess.TimeoutExpired:
                pass
        process.kill()  # SIGKILL also ends a process stopped with SIGSTOP
        process.wait(timeout=10)

    def _drain(self, stream: object) -> None:
        for raw in iter(stream.readline, b""):  # type: ignore[attr-defined]
            line = raw.decode("utf-8", "replace").rstrip()
            if line:
                self._log.append(line)
                log.debug("engine: %s", line)

    def _log_tail(self) -> str:
        lines = [line for line in list(self._log)[-5:] if line]
        return ("; engine log: " + " | ".join(lines)) if lines else ""

    @staticmethod
    def _describe_exit(code: int) -> str:
        if code < 0:
            name = signal.Signals(-code).name
            hint = ""
            if -code in (signal.SIGSEGV, signal.SIGILL, signal.SIGBUS):
                hint = (
                    " (a llama.cpp fault: check that the installed xllamacpp is the pinned CPU "
                    "build, `pip install --force-reinstall xllamacpp`, or point "
                    "RAGQA_GENERATOR_URL at another engine)"
                )
            return f"was killed by {name}{hint}"
        return f"exited with code {code}"
