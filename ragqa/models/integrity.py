"""SHA-256 checks for provisioned files, and the stamp that lets `serve` skip re-hashing.

`fetch` and `verify` always hash. The resolver trusts a stamp written by a successful hash only
while the file's size and modification time are those the stamp recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

FILES_MANIFEST = "ragqa-files.json"
"""Lists every file of a converted model folder with its size and SHA-256."""

STAMP = ".ragqa-verified.json"
"""Size, mtime and SHA-256 of each file as last verified by a full hash."""

CHUNK_BYTES = 4 * 1024 * 1024

Advance = Callable[[int], None]


def _ignore_progress(_advance: int) -> None:
    """Default progress sink."""


@dataclass(frozen=True)
class ExpectedFile:
    """A file a model consists of, relative to the model's folder."""

    relpath: str
    size: int
    sha256: str


def sha256_file(path: Path, on_bytes: Advance = _ignore_progress) -> str:
    """Hex SHA-256 of a file, read in chunks so a 1 GB model does not sit in memory."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK_BYTES):
            digest.update(chunk)
            on_bytes(len(chunk))
    return digest.hexdigest()


def write_files_manifest(folder: Path) -> list[ExpectedFile]:
    """Record every file under `folder` (size + SHA-256) in FILES_MANIFEST."""
    files = [
        ExpectedFile(path.relative_to(folder).as_posix(), path.stat().st_size, sha256_file(path))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.name not in (FILES_MANIFEST, STAMP)
    ]
    manifest = {"files": {f.relpath: {"size": f.size, "sha256": f.sha256} for f in files}}
    (folder / FILES_MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return files


def read_files_manifest(folder: Path) -> list[ExpectedFile] | str:
    """The files FILES_MANIFEST lists, or a description of why it cannot be read."""
    path = folder / FILES_MANIFEST
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))["files"]
        return [ExpectedFile(rel, int(e["size"]), str(e["sha256"])) for rel, e in entries.items()]
    except FileNotFoundError:
        return f"{path} is missing"
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"{path} is unreadable ({exc.__class__.__name__}: {exc})"


def _read_stamp(folder: Path) -> dict[str, dict[str, object]]:
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return stamp if isinstance(stamp, dict) else {}


def _stamp_entry(path: Path, sha256: str) -> dict[str, object]:
    stat = path.stat()
    return {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": sha256}


def write_stamp(folder: Path, files: Iterable[ExpectedFile]) -> None:
    """Remember that `files` hashed correctly as they are now (atomically replaced)."""
    stamp = {f.relpath: _stamp_entry(folder / f.relpath, f.sha256) for f in files}
    partial = folder / (STAMP + ".partial")
    partial.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, folder / STAMP)


def total_size(files: Iterable[ExpectedFile]) -> int:
    return sum(f.size for f in files)


def find_problem(
    folder: Path,
    files: list[ExpectedFile],
    *,
    rehash: bool,
    on_bytes: Advance = _ignore_progress,
) -> str | None:
    """None if every file is present and has its SHA-256, else what is wrong with the first bad one.

    With `rehash=False` a file whose size and mtime still match the stamp is not hashed again.
    Any file that had to be hashed and passed refreshes the stamp.
    """
    stamp = _read_stamp(folder)
    hashed = False
    for expected in files:
        path = folder / expected.relpath
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != expected.size:
            return f"{path} is {size:,} bytes, expected {expected.size:,}"
        if not rehash and stamp.get(expected.relpath) == _stamp_entry(path, expected.sha256):
            on_bytes(expected.size)
            continue
        actual = sha256_file(path, on_bytes)
        hashed = True
        if actual != expected.sha256:
            return f"{path} has SHA-256 {actual}, expected {expected.sha256}"
    if hashed:
        write_stamp(folder, files)
    return None
