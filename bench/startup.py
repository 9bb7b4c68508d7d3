"""Section 6: seconds from `ragqa serve` to a ready service, with a built index and cached models.

Each start is a new process, as a user or an orchestrator starts it; ready means /readyz
answers 200. Where the seconds go is measured in separate fresh interpreters that load the
answerer exactly as `serve` does (service.compose.build_answerer) and report its load timings.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.process import REPO, serve_process, settings_env
from bench.report import Section, Table, Target, median
from index.ingest import build_index
from ragqa.config import Settings
from ragqa.models.resolve import load_configured_embedder

TARGET_S = 10.0
STAGES = ("imports_s", "models_check_s", "embedder_s", "index_s", "generators_s")

# A fresh interpreter: the imports a server pays, then the answerer loaded as `serve` loads it.
_LOAD_SCRIPT = """
import json, time
started = time.perf_counter()
import uvicorn
from ragqa.config import Settings
from service.app import create_app
from service.compose import build_answerer
imports_s = time.perf_counter() - started
answerer = build_answerer(Settings())
print(json.dumps({"imports_s": imports_s, **answerer.load_timings}))
answerer.close()
"""


@dataclass(frozen=True)
class StartupOptions:
    rounds: int


FULL = StartupOptions(rounds=5)
QUICK = StartupOptions(rounds=2)


def load_stages(settings: Settings) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_SCRIPT],
        cwd=REPO,
        env=settings_env(settings),
        capture_output=True,
        text=True,
        check=True,
    )
    stages: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return stages


def run_startup(section: Section, settings: Settings, options: StartupOptions) -> Section:
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-startup-") as tmp:
        settings = settings.model_copy(update={"index_dir": Path(tmp) / "index"})
        build_index(settings, load_configured_embedder(settings), progress=False)
        ready: list[float] = []
        stages: list[dict[str, float]] = []
        for _ in range(options.rounds):
            with serve_process(settings) as server:
                ready.append(server.ready_s)
            stages.append(load_stages(settings))
    value = median(ready)
    section.tables.append(
        Table(
            "Seconds from `ragqa serve` to /readyz 200 (built index, cached models)",
            ["starts", "median s", "min s", "max s"],
            [[len(ready), value, min(ready), max(ready)]],
        )
    )
    section.tables.append(
        Table(
            "Where a start spends its time (median s, fresh interpreter)",
            ["stage", "seconds"],
            [[stage, median([s.get(stage, 0.0) for s in stages])] for stage in STAGES],
        )
    )
    section.targets.append(
        Target(
            "service ready after start",
            f"<= {TARGET_S:g} s",
            f"{value:.1f} s",
            value <= TARGET_S,
            "" if value <= TARGET_S else "see the stage table",
        )
    )
    section.notes += [
        f"{options.rounds} start(s) of `python -m ragqa serve` on a loopback port, each a new "
        "process, timed from spawning it to the first 200 of /readyz (polled every 50 ms). The "
        "index was built beforehand and the models are in the cache, so nothing is built or "
        "fetched; the page cache is warm after the first start, as on a server that restarts.",
        "Stages: imports (uvicorn, FastAPI app, answerer modules), model check (provisioned "
        "files against their verification stamps), embedder (the ONNX Runtime session, or "
        "sentence-transformers on torch), index (manifest check, FAISS, BM25, chunk records), "
        "generators (the engine: llama.cpp's server started in a child process, the model "
        "loaded and a few tokens generated as a self-test, with a slot per generation and one "
        "for query translation).",
    ]
    return section
