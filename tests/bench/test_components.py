"""bench.components.chunks_by_id over a real index built from the bundled collection."""

from __future__ import annotations

from pathlib import Path

from bench.components import chunks_by_id
from index.ingest import build_index, open_or_build
from ragqa.config import Settings
from tests.conftest import FakeEmbedder

REPO = Path(__file__).resolve().parents[2]


def test_every_chunk_of_the_index_is_found_by_its_id(tmp_path: Path) -> None:
    settings = Settings(collection_dir=REPO / "corpus", index_dir=tmp_path / "index")
    embedder = FakeEmbedder()
    build_index(settings, embedder, progress=False)
    view = open_or_build(settings, embedder).snapshot
    chunks = chunks_by_id(view)
    assert len(chunks) == len(view)
    assert all(chunks[view.chunk(i).chunk_id] == view.chunk(i) for i in range(len(view)))


def test_chunks_are_found_after_a_document_is_removed(tmp_path: Path) -> None:
    """Integer chunk ids are not 0..n-1 once a document is gone: every chunk left is found."""
    settings = Settings(collection_dir=REPO / "corpus", index_dir=tmp_path / "index")
    store = open_or_build(settings, FakeEmbedder())
    first = sorted(store.snapshot.documents)[0]
    store.remove_documents([first])
    view = store.snapshot
    chunks = chunks_by_id(view)
    assert len(chunks) == len(view) > 0
    assert all(chunk.doc_id != first for chunk in chunks.values())
