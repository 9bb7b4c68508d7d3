from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragqa.errors import ModelError
from ragqa.models.embedders import SentenceTransformerEmbedder, load_embedder, uses_onnx
from ragqa.models.onnx_embedder import ensure_onnx_export, export_dir, source_signature

REPO = Path(__file__).resolve().parents[2]


def test_the_signature_changes_when_any_file_of_the_folder_does(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "sub" / "weights.bin").write_bytes(b"1234")
    before = source_signature(tmp_path)
    assert source_signature(tmp_path) == before
    (tmp_path / ".ragqa-verified.json").write_text("{}")  # bookkeeping, not the model
    assert source_signature(tmp_path) == before
    (tmp_path / "sub" / "weights.bin").write_bytes(b"12345")
    assert source_signature(tmp_path) != before


def test_each_model_folder_has_its_own_export_dir(tmp_path: Path) -> None:
    assert export_dir(tmp_path, "/models/a") != export_dir(tmp_path, "/models/b")
    assert export_dir(tmp_path, "/models/a").parent == tmp_path / "onnx"


def test_auto_takes_onnx_for_a_folder_and_torch_for_a_hub_id(tmp_path: Path) -> None:
    assert uses_onnx(str(tmp_path), "auto")
    assert not uses_onnx("intfloat/multilingual-e5-small", "auto")
    assert not uses_onnx(str(tmp_path), "torch")
    assert uses_onnx("intfloat/multilingual-e5-small", "onnx")


def test_onnx_for_a_hub_id_is_refused_naming_the_back_ends_that_work(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="valid back ends for a Hugging Face id: torch, auto"):
        ensure_onnx_export("intfloat/multilingual-e5-small", tmp_path)


@pytest.fixture(scope="module")
def torch_embedder(real_embedder) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(real_embedder.model_id)


@pytest.mark.slow
def test_the_configured_embedder_runs_on_onnx_with_sentence_transformers_vectors(
    real_embedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    assert type(real_embedder).__name__ == "OnnxEmbedder"
    lines = [
        line.strip()
        for path in sorted((REPO / "corpus").glob("*.txt"))
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ][:40]
    texts = [*lines, "短", "x" * 3000]  # one batch of very different lengths, one truncated
    for ours, theirs in (
        (real_embedder.embed_documents(texts), torch_embedder.embed_documents(texts)),
        (real_embedder.embed_queries(texts), torch_embedder.embed_queries(texts)),
    ):
        assert ours.shape == (len(texts), 384) and ours.dtype == np.float32
        assert np.min(np.sum(ours * theirs, axis=1)) > 0.9999
    assert [real_embedder.count_tokens(t) for t in texts] == [
        torch_embedder.count_tokens(t) for t in texts
    ]
    assert real_embedder.embed_queries([]).shape == (0, 384)


@pytest.mark.slow
def test_an_export_is_made_once_and_remade_when_stale(
    tmp_path: Path, real_embedder, torch_embedder: SentenceTransformerEmbedder
) -> None:
    folder = real_embedder.model_id
    made = ensure_onnx_export(folder, tmp_path)
    onnx_file = made / "model.onnx"
    first = onnx_file.stat().st_mtime_ns
    assert ensure_onnx_export(folder, tmp_path) == made
    assert onnx_file.stat().st_mtime_ns == first  # reused, not exported again

    meta = json.loads((made / "meta.json").read_text())
    (made / "meta.json").write_text(json.dumps({**meta, "signature": "an older model"}))
    assert ensure_onnx_export(folder, tmp_path) == made
    assert onnx_file.stat().st_mtime_ns != first
    leftovers = sorted(p.name for p in made.parent.iterdir())
    assert leftovers == [made.name, f"{made.name}.lock"]  # no half-made or old exports
    embedder = load_embedder(folder, backend="onnx", cache_dir=tmp_path)
    query = ["2025年核医学年会在哪里举办？"]
    assert float(embedder.embed_queries(query)[0] @ torch_embedder.embed_queries(query)[0]) > 0.9999


@pytest.mark.slow
def test_the_service_embedder_loads_without_importing_torch(real_embedder) -> None:
    """What makes the service start fast: an exported model needs onnxruntime only."""
    script = (
        "import sys\n"
        "from ragqa.config import Settings\n"
        "from ragqa.models.resolve import load_configured_embedder\n"
        "embedder = load_configured_embedder(Settings())\n"
        "assert embedder.embed_queries(['q']).shape == (1, 384)\n"
        "print('torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAGQA_")}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False"]


def test_an_unwritable_cache_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    folder.mkdir()
    blocker = tmp_path / "cache"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(ModelError, match="cannot write the embedder's ONNX export"):
        ensure_onnx_export(str(folder), blocker)
