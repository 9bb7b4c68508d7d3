"""What the figures were measured on: CPU, cores, memory, library versions, current load."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import importlib.metadata
import os
import platform
from pathlib import Path

import psutil

_VERSIONED = (
    "torch",
    "faiss-cpu",
    "xllamacpp",
    "sentence-transformers",
    "transformers",
    "bm25s",
    "fastapi",
    "uvicorn",
    "llama-index-core",
    "llama-index-llms-openai-like",
)


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo (Linux), else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def describe_machine() -> dict[str, str]:
    """One line per fact, as printed at the top of BENCHMARKS.md."""
    memory = psutil.virtual_memory().total / 2**30
    physical = psutil.cpu_count(logical=False)
    return {
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {physical or '?'} physical",
        "ram": f"{memory:.1f} GiB",
        "os": platform.platform(),
        "python": platform.python_version(),
        **{name: package_version(name) for name in _VERSIONED},
    }


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages: above the core count, other work shared the CPU."""
    return [round(x, 2) for x in os.getloadavg()]


def rss_bytes() -> int:
    return int(psutil.Process().memory_info().rss)


def service_rss_bytes() -> int:
    """RSS of this process and of the generation engines it started (not of other children,
    such as a load client): the memory the service holds."""
    me = psutil.Process()
    total = me.memory_info().rss
    for child in me.children(recursive=True):
        with contextlib.suppress(psutil.Error):  # a child that ended meanwhile
            if "service.generation.llama_server" in child.cmdline():
                total += child.memory_info().rss
    return int(total)


def settle_memory() -> int:
    """RSS after garbage collection and returning freed heap pages to the OS (glibc)."""
    gc.collect()
    with contextlib.suppress(OSError):  # not glibc: freed pages stay, deltas read high
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes()
