"""Fixtures for index tests: small in-test documents and the settings a fake-embedder index uses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from index.documents import Document, DocumentMeta
from index.embedder import Embedder
from index.lexical import lexical_settings
from index.manifest import ChunkingInfo, EmbedderInfo, ManifestExpectation
from index.store import IndexStore


def _make_doc(doc_id: str, text: str, *, title: str = "", language: str = "zh") -> Document:
    """A cleaned document as the loaders would produce it (hash of the text as its bytes)."""
    return Document(
        doc_id=doc_id,
        text=text,
        meta=DocumentMeta(title=title, date="2024-05-01", source="test"),
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        language=language,
    )


def _expectation_for_fake(
    dimension: int = 64, *, chunk_size: int = 80, chunk_overlap: int = 1
) -> ManifestExpectation:
    return ManifestExpectation(
        embedder=EmbedderInfo(
            model_id="fake-embedder", fingerprint="hub:fake-embedder", dimension=dimension
        ),
        chunking=ChunkingInfo(
            chunk_size=chunk_size, chunk_overlap=chunk_overlap, token_counter="characters"
        ),
        lexical=lexical_settings(),
    )


_SAMPLE_DOCS = [
    _make_doc(
        "zh/hospital.txt",
        "山西医科大学第一医院今天开设了新的心脏病中心。该中心配备了先进的设备。"
        "医生们表示，新中心将每年为数千名患者提供服务。",
        title="医院新中心",
    ),
    _make_doc(
        "zh-hant/rail.txt",
        "臺灣高速鐵路公司宣布增加班次。新的時刻表將於下個月開始實施。"
        "旅客可以在網站上查詢最新的資訊。",
        title="高鐵增班",
    ),
    _make_doc(
        "en/solar.txt",
        "The Solar Farm in Nevada began producing electricity this week. "
        "Engineers say the plant will power forty thousand homes. "
        "Construction took two years and employed many local workers.",
        title="Nevada Solar Farm",
        language="en",
    ),
]


@pytest.fixture
def make_doc() -> Callable[..., Document]:
    """Build a Document: make_doc(doc_id, text, *, title="", language="zh")."""
    return _make_doc


@pytest.fixture
def make_expectation() -> Callable[..., ManifestExpectation]:
    """Settings of a fake-embedder index: make_expectation(dimension=64, *, chunk_size=80, ...)."""
    return _expectation_for_fake


@pytest.fixture
def sample_docs() -> list[Document]:
    """A simplified-Chinese, a traditional-Chinese and an English document."""
    return list(_SAMPLE_DOCS)


@pytest.fixture
def expectation() -> ManifestExpectation:
    return _expectation_for_fake()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def sample_store(
    index_dir: Path, expectation: ManifestExpectation, fake_embedder: Embedder
) -> IndexStore:
    """An index of the sample documents built with the fake embedder."""
    store, _ = IndexStore.build(index_dir, _SAMPLE_DOCS, fake_embedder, expected=expectation)
    return store
