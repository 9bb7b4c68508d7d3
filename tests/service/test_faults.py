"""Broken files at start-up: `ragqa serve`, run as a real process, must stop with a clear
one-line error naming the file, a non-zero exit and no traceback, and must not keep running.

Models: a tmp model cache holds truncated or altered copies (sparse files, nothing big is
copied) and pip is kept offline, so the repair `serve` attempts fails instead of downloading.
Index: a copy built with the fake embedder, then damaged; opening it needs the real embedder
loaded first, so those tests are slow.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ragqa.config import Settings
from ragqa.models.integrity import STAMP
from ragqa.models.registry import E5_SMALL, QWEN_0_5B, ModelSpec
from service.loopback import free_port
from tests.service.conftest import REPO, build_fake_answerer, make_settings

RAGQA = Path(sys.executable).with_name("ragqa")
REAL_CACHE = Settings().model_cache_dir
SERVE_TIMEOUT_S = 120


def serve_env(tmp: Path, **settings: str) -> dict[str, str]:
    """The environment of a `ragqa serve` child: only these RAGQA_ settings, pip offline."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAGQA_", "PIP_"))}
    env.update(
        PIP_NO_INDEX="1",  # a repair must fail here, not download a model
        PIP_FIND_LINKS="",
        HF_HUB_OFFLINE="1",
        RAGQA_HOST="127.0.0.1",
        RAGQA_PORT=str(free_port()),
        RAGQA_COLLECTION_DIR=str(tmp / "corpus"),
        RAGQA_INDEX_DIR=str(tmp / "index"),
        **{f"RAGQA_{k.upper()}": v for k, v in settings.items()},
    )
    return env


def run_serve(tmp: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`ragqa serve` in `tmp` (no .env there); it must exit on its own within the time limit."""
    (tmp / "corpus").mkdir(exist_ok=True)
    return subprocess.run(
        [str(RAGQA), "serve"],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=SERVE_TIMEOUT_S,  # raises if the process keeps running
        stdin=subprocess.DEVNULL,
    )


def assert_fails_clearly(result: subprocess.CompletedProcess[str], names: str) -> str:
    """Non-zero exit, no traceback, and one `error:` line naming `names`; returns that line."""
    stderr = result.stderr
    assert result.returncode != 0, stderr
    assert "Traceback" not in stderr, stderr
    assert "ragqa serving on" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert names in errors[0], f"the error line does not name {names}:\n{stderr}"
    return errors[0]


# --- models --------------------------------------------------------------------------------


def model_folder(cache: Path, spec: ModelSpec) -> Path:
    folder = spec.folder(cache)
    folder.mkdir(parents=True)
    return folder


def test_a_missing_model_is_a_clear_error(tmp_path: Path) -> None:
    env = serve_env(tmp_path, model_cache_dir=str(tmp_path / "empty-cache"))
    result = run_serve(tmp_path, env)
    assert_fails_clearly(result, E5_SMALL.name)


def test_truncated_embedder_weights_are_a_clear_error(tmp_path: Path) -> None:
    """A copy of the embedder folder whose weights file is cut short."""
    real = E5_SMALL.folder(REAL_CACHE)
    if not (real / "model.safetensors").is_file():
        pytest.skip("the default embedder is not provisioned")
    cache = tmp_path / "cache"
    folder = model_folder(cache, E5_SMALL)
    for path in real.iterdir():
        if path.is_file() and path.name != "model.safetensors":
            shutil.copy2(path, folder / path.name)
        elif path.is_dir():
            shutil.copytree(path, folder / path.name)
    with (real / "model.safetensors").open("rb") as source:
        (folder / "model.safetensors").write_bytes(source.read(1 << 20))
    env = serve_env(tmp_path, model_cache_dir=str(cache))
    assert_fails_clearly(run_serve(tmp_path, env), str(folder / "model.safetensors"))


def gguf_cache(tmp_path: Path, *, size: int, stamped_sha: str) -> tuple[Path, Path]:
    """A cache with the real embedder linked in and a sparse GGUF of `size` bytes whose
    verification stamp claims `stamped_sha` with a stale modification time."""
    real_embedder = E5_SMALL.folder(REAL_CACHE)
    if not real_embedder.is_dir():
        pytest.skip("the default embedder is not provisioned")
    cache = tmp_path / "cache"
    (cache / E5_SMALL.name).mkdir(parents=True)
    (cache / E5_SMALL.name / E5_SMALL.key).symlink_to(real_embedder)
    artifact = QWEN_0_5B.artifacts[0]
    gguf = model_folder(cache, QWEN_0_5B) / artifact.file_name
    with gguf.open("wb") as handle:
        handle.write(b"GGUF\x03\x00\x00\x00")
        handle.truncate(size)  # sparse: no real disk space
    stamp = {artifact.file_name: {"size": size, "mtime_ns": 1, "sha256": stamped_sha}}
    (gguf.parent / STAMP).write_text(json.dumps(stamp))
    return cache, gguf


def test_a_truncated_gguf_is_a_clear_error(tmp_path: Path) -> None:
    artifact = QWEN_0_5B.artifacts[0]
    cache, gguf = gguf_cache(tmp_path, size=artifact.size // 2, stamped_sha=artifact.sha256)
    env = serve_env(tmp_path, model_cache_dir=str(cache), generator=QWEN_0_5B.name)
    assert_fails_clearly(run_serve(tmp_path, env), str(gguf))


def test_a_gguf_with_the_wrong_checksum_is_a_clear_error(tmp_path: Path) -> None:
    """Right size, wrong bytes: only the SHA-256 can tell (the stale stamp forces a hash)."""
    artifact = QWEN_0_5B.artifacts[0]
    cache, gguf = gguf_cache(tmp_path, size=artifact.size, stamped_sha=artifact.sha256)
    env = serve_env(tmp_path, model_cache_dir=str(cache), generator=QWEN_0_5B.name)
    line = assert_fails_clearly(run_serve(tmp_path, env), str(gguf))
    assert "SHA-256" in line


# --- the index -----------------------------------------------------------------------------


def damaged_index(tmp_path: Path, damage: str) -> tuple[Path, Path]:
    """A built index (fake embedder) with one file damaged; returns (index dir, the file)."""
    settings = make_settings(tmp_path)
    build_fake_answerer(settings)
    index = settings.index_dir
    generation = index / "generations" / (index / "CURRENT").read_text().strip()
    match damage:
        case "truncated database":
            target = generation / "chunks.sqlite"
            os.truncate(target, target.stat().st_size // 3)
        case "flipped byte in the dense index":
            target = generation / "dense" / "index.faiss"
            data = bytearray(target.read_bytes())
            data[len(data) // 2] ^= 0xFF
            target.write_bytes(bytes(data))
        case "garbage manifest":
            target = generation / "manifest.json"
            target.write_text('{"version": 1, "files": {')
        case "CURRENT names a missing generation":
            target = index / "generations" / "000099"
            (index / "CURRENT").write_text("000099\n")
        case _:
            raise ValueError(damage)
    return index, target


@pytest.mark.slow
@pytest.mark.parametrize(
    "damage",
    [
        "truncated database",
        "flipped byte in the dense index",
        "garbage manifest",
        "CURRENT names a missing generation",
    ],
)
def test_a_damaged_index_is_a_clear_error(tmp_path: Path, damage: str) -> None:
    if not E5_SMALL.folder(REAL_CACHE).is_dir():
        pytest.skip("the default embedder is not provisioned")
    index, damaged = damaged_index(tmp_path, damage)
    env = serve_env(tmp_path, model_cache_dir=str(REAL_CACHE))
    line = assert_fails_clearly(run_serve(tmp_path, env), str(damaged))
    assert "ragqa index build" in line
    assert str(REPO) not in str(index)  # the repository's own index was never touched
