"""The store contract, run against both implementations: FAISS generations and Milvus Lite.

Milvus Lite is a real embedded engine speaking the pymilvus API of Milvus Standalone, so the
Milvus half of each test exercises the same calls a production server receives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from index.backend import ChunkStore, SearchFilter, SearchView
from index.documents import Document
from index.manifest import ManifestExpectation
from index.milvus_store import MilvusStore
from index.store import IndexStore
from index.textnorm import tokenize
from ragqa.errors import DocumentNotFound, IndexMismatch
from service.retrieval import HybridRetriever

KINDS = ["faiss", "milvus"]


def open_store(kind: str, where: Path, expected: ManifestExpectation | None) -> ChunkStore:
    if kind == "faiss":
        if IndexStore.exists(where / "index"):
            return IndexStore.open(where / "index", expected=expected)
        assert expected is not None
        return IndexStore.create_empty(where / "index", expected=expected)
    return MilvusStore(str(where / "milvus.db"), expected=expected, refresh_seconds=0.0)


@pytest.fixture(params=KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path: Path, expectation: ManifestExpectation
) -> Iterator[ChunkStore]:
    opened = open_store(request.param, tmp_path, expectation)
    yield opened
    if isinstance(opened, MilvusStore):
        opened.close()


@pytest.fixture
def filled(store: ChunkStore, sample_docs: list[Document], fake_embedder) -> ChunkStore:
    report = store.add_documents(sample_docs, fake_embedder)
    assert sorted(report.added) == sorted(d.doc_id for d in sample_docs)
    return store


def dense_docs(view: SearchView, embedder, query: str, k: int = 3, **where) -> list[str]:
    vector = embedder.embed_queries([query])
    hits = view.dense_search(vector, k, SearchFilter(**where) if where else None)[0]
    return [view.chunk(h.id).doc_id for h in hits]


def lexical_docs(view: SearchView, query: str, k: int = 3, **where) -> list[str]:
    hits = view.lexical_search_tokens(tokenize(query), k, SearchFilter(**where) if where else None)
    assert all(h.score > 0 for h in hits)
    return [view.chunk(h.id).doc_id for h in hits]


def test_an_empty_store_finds_nothing(store: ChunkStore, fake_embedder) -> None:
    view = store.snapshot
    assert len(view) == 0 and not view.documents
    assert dense_docs(view, fake_embedder, "医院") == []
    assert lexical_docs(view, "医院") == []


def test_added_documents_are_held_whole(filled: ChunkStore, sample_docs: list[Document]) -> None:
    view = filled.snapshot
    assert sorted(view.documents) == sorted(d.doc_id for d in sample_docs)
    assert view.languages == {"zh", "en"}
    for doc in sample_docs:
        assert view.document_text(doc.doc_id) == doc.text
        entry = view.documents[doc.doc_id]
        assert (entry.title, entry.date, entry.content_hash) == (
            doc.meta.title,
            doc.meta.date,
            doc.content_hash,
        )
    assert len(view) == sum(e.n_chunks for e in view.documents.values())
    with pytest.raises(DocumentNotFound):
        view.document_text("missing.txt")


def test_search_returns_chunks_that_are_slices_of_their_document(
    filled: ChunkStore, fake_embedder
) -> None:
    view = filled.snapshot
    hits = view.dense_search(fake_embedder.embed_queries(["solar homes"]), 10)[0]
    assert hits and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    for hit in hits:
        chunk = view.chunk(hit.id)
        assert view.document_text(chunk.doc_id)[chunk.start : chunk.end] == chunk.text


@pytest.mark.parametrize(
    ("query", "doc_id"),
    [
        ("山西医科大学第一医院心脏病中心", "zh/hospital.txt"),
        ("台湾高铁新的时刻表", "zh-hant/rail.txt"),  # simplified query, traditional document
        ("Nevada solar farm electricity", "en/solar.txt"),
    ],
)
def test_dense_and_lexical_search_find_the_document(
    filled: ChunkStore, fake_embedder, query: str, doc_id: str
) -> None:
    view = filled.snapshot
    assert dense_docs(view, fake_embedder, query)[0] == doc_id
    assert lexical_docs(view, query)[0] == doc_id


def test_metadata_filters_restrict_every_search(filled: ChunkStore, fake_embedder) -> None:
    view = filled.snapshot
    assert set(dense_docs(view, fake_embedder, "solar 医院", k=10, language="en")) == {
        "en/solar.txt"
    }
    assert set(lexical_docs(view, "solar 医院 高铁", k=10, language="zh")) == {
        "zh/hospital.txt",
        "zh-hant/rail.txt",
    }
    only = frozenset({"zh-hant/rail.txt"})
    assert set(dense_docs(view, fake_embedder, "医院", k=10, doc_ids=only)) == set(only)
    assert lexical_docs(view, "医院", doc_ids=only) == []


def test_hybrid_retrieval_ranks_the_same_on_both_stores(
    tmp_path: Path, expectation: ManifestExpectation, sample_docs, fake_embedder
) -> None:
    retriever = HybridRetriever(
        fake_embedder,
        translator=None,
        candidate_k=10,
        lexical_weight=0.1,
        min_dense_score=0.0,
        cross_lingual=False,
    )
    ranked = {}
    for kind in KINDS:
        store = open_store(kind, tmp_path / kind, expectation)
        store.add_documents(sample_docs, fake_embedder)
        found = retriever.search(store.snapshot, "台湾高速铁路公司增加班次", 3).hits
        ranked[kind] = [(h.chunk.chunk_id, h.chunk.text) for h in found]
    assert ranked["faiss"][0][0].startswith("zh-hant/rail.txt")
    assert ranked["faiss"] == ranked["milvus"]


def test_unchanged_documents_are_skipped(
    filled: ChunkStore, sample_docs: list[Document], fake_embedder
) -> None:
    before = len(fake_embedder.embedded)
    report = filled.add_documents(sample_docs, fake_embedder)
    assert sorted(report.unchanged) == sorted(d.doc_id for d in sample_docs)
    assert not report.added and not report.replaced
    assert len(fake_embedder.embedded) == before


def test_a_replaced_document_loses_its_old_chunks(
    filled: ChunkStore,
    sample_docs: list[Document],
    make_doc: Callable[..., Document],
    fake_embedder,
) -> None:
    new = make_doc("en/solar.txt", "The wind park in Texas opened today.", language="en")
    report = filled.add_documents([new], fake_embedder)
    assert report.replaced == ("en/solar.txt",) and report.chunks_added >= 1
    view = filled.snapshot
    assert view.document_text("en/solar.txt") == new.text
    assert view.documents["en/solar.txt"].content_hash == new.content_hash
    assert lexical_docs(view, "Nevada electricity") == []
    assert lexical_docs(view, "wind park Texas")[0] == "en/solar.txt"
    texts = [
        view.chunk(h.id).text for h in view.dense_search(fake_embedder.embed_queries(["x"]), 10)[0]
    ]
    assert not any("Nevada" in t for t in texts)
    assert len(view) == sum(e.n_chunks for e in view.documents.values())


def test_removed_documents_leave_every_search(filled: ChunkStore, fake_embedder) -> None:
    report = filled.remove_documents(["zh/hospital.txt"])
    assert report.removed == ("zh/hospital.txt",) and report.chunks_removed >= 1
    view = filled.snapshot
    assert "zh/hospital.txt" not in view.documents
    assert "zh/hospital.txt" not in dense_docs(view, fake_embedder, "医院心脏病中心", k=10)
    assert lexical_docs(view, "医院心脏病中心") == []
    with pytest.raises(DocumentNotFound):
        view.document_text("zh/hospital.txt")


def test_removing_an_unknown_id_changes_nothing(filled: ChunkStore) -> None:
    before = dict(filled.snapshot.documents)
    with pytest.raises(DocumentNotFound):
        filled.remove_documents(["en/solar.txt", "nope.txt"])
    assert dict(filled.snapshot.documents) == before


def test_stats_describe_the_store(filled: ChunkStore, sample_docs: list[Document]) -> None:
    stats = filled.stats()
    assert stats.store == filled.kind
    assert stats.n_documents == len(sample_docs)
    assert stats.n_chunks == len(filled.snapshot) > 0
    assert stats.languages == ("en", "zh")
    assert stats.embedder_id == "fake-embedder" and stats.dimension == 64
    assert stats.search_index


@pytest.mark.parametrize("kind", KINDS)
def test_reopening_keeps_everything_and_checks_the_settings(
    kind: str, tmp_path: Path, expectation: ManifestExpectation, sample_docs, fake_embedder
) -> None:
    store = open_store(kind, tmp_path, expectation)
    store.add_documents(sample_docs, fake_embedder)
    held = {d: store.snapshot.document_text(d) for d in store.snapshot.documents}
    if isinstance(store, MilvusStore):
        store.close()
    reopened = open_store(kind, tmp_path, expectation)
    assert {d: reopened.snapshot.document_text(d) for d in reopened.snapshot.documents} == held
    changed = expectation.model_copy(
        update={"chunking": expectation.chunking.model_copy(update={"chunk_size": 999})}
    )
    if isinstance(reopened, MilvusStore):
        reopened.close()
    with pytest.raises(IndexMismatch, match="chunk_size"):
        open_store(kind, tmp_path, changed)


def test_documents_with_the_same_bytes_keep_their_own_chunks(
    store: ChunkStore, make_doc, fake_embedder
) -> None:
    """Two files with identical content (a copy under another name) are two documents: removing
    one leaves the other whole and searchable."""
    text = "Gallium-68 PSMA imaging finds recurrent prostate cancer early."
    a, b = make_doc("en/a.txt", text, language="en"), make_doc("en/b.txt", text, language="en")
    assert a.content_hash == b.content_hash
    store.add_documents([a, b], fake_embedder)
    assert sorted(lexical_docs(store.snapshot, "gallium psma", k=5)) == ["en/a.txt", "en/b.txt"]
    store.remove_documents(["en/a.txt"])
    view = store.snapshot
    assert lexical_docs(view, "gallium psma", k=5) == ["en/b.txt"]
    assert dense_docs(view, fake_embedder, text, k=5) == ["en/b.txt"]
    assert view.document_text("en/b.txt") == b.text


def test_milvus_can_hold_the_vectors_in_ivf_flat(
    tmp_path: Path, expectation: ManifestExpectation, sample_docs, fake_embedder
) -> None:
    """IVF_FLAT (for millions of chunks) is chosen at creation, searched with its own depth, and
    kept when the store is opened again without saying which."""
    from index.milvus_schema import DenseIndex

    where = str(tmp_path / "m.db")
    store = MilvusStore(where, expected=expectation, dense=DenseIndex("IVF_FLAT", nlist=4))
    store.add_documents(sample_docs, fake_embedder)
    query = sample_docs[0].text[:80]
    assert dense_docs(store.snapshot, fake_embedder, query, k=1) == [sample_docs[0].doc_id]
    assert store.stats().search_index == "milvus IVF_FLAT {'nlist': 4}"
    store.close()
    reopened = MilvusStore(where, expected=expectation)
    assert reopened.dense.kind == "IVF_FLAT"
    assert dense_docs(reopened.snapshot, fake_embedder, query, k=1) == [sample_docs[0].doc_id]
    reopened.close()
    with pytest.raises(ValueError, match="HNSW, IVF_FLAT"):
        DenseIndex("DISKANN")  # type: ignore[arg-type]


def test_a_milvus_write_that_stops_before_its_commit_leaves_nothing_visible(
    tmp_path: Path,
    expectation: ManifestExpectation,
    sample_docs: list[Document],
    make_doc,
    fake_embedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Chunks are written before their documents' rows (the commit): a write cut off between
    the two shows readers the old documents only, and the next write of them cleans up."""
    from pymilvus.exceptions import MilvusException

    from ragqa.errors import StoreUnavailable

    store = MilvusStore(str(tmp_path / "m.db"), expected=expectation, refresh_seconds=0.0)
    store.add_documents(sample_docs, fake_embedder)
    changed = make_doc("en/solar.txt", "Cyclotron isotopes reach the hospital.", language="en")
    added = make_doc("en/cyclotron.txt", "A cyclotron makes fluorine isotopes.", language="en")
    upsert = store.client.upsert

    def cut_off(collection: str, rows, **kwargs):
        if collection == store.names.documents:
            raise MilvusException(message="connection lost")
        return upsert(collection, rows, **kwargs)

    monkeypatch.setattr(store.client, "upsert", cut_off)
    with pytest.raises(StoreUnavailable):
        store.add_documents([changed, added], fake_embedder)
    monkeypatch.undo()
    store.refresh()
    view = store.snapshot
    assert sorted(view.documents) == sorted(d.doc_id for d in sample_docs)
    assert lexical_docs(view, "cyclotron isotopes", k=5) == []  # written, not committed
    assert set(lexical_docs(view, "Nevada solar", k=5)) == {"en/solar.txt"}
    assert len(view) == sum(e.n_chunks for e in view.documents.values())

    report = store.add_documents([changed, added], fake_embedder)
    assert report.added == ("en/cyclotron.txt",) and report.replaced == ("en/solar.txt",)
    view = store.snapshot
    assert set(lexical_docs(view, "cyclotron isotopes", k=5)) == {
        "en/cyclotron.txt",
        "en/solar.txt",
    }
    assert lexical_docs(view, "Nevada", k=5) == []  # the old chunks went with the commit
    rows = store.client.query(
        store.names.chunks, filter='doc_id == "en/solar.txt"', output_fields=["n"]
    )
    assert len(rows) == view.documents["en/solar.txt"].n_chunks  # no leftovers stored either
    store.close()


def test_milvus_takes_a_chunk_with_more_words_than_a_milvus_string_holds(
    tmp_path: Path, expectation: ManifestExpectation, make_doc, fake_embedder
) -> None:
    """Found by the stores bench: a chunk with thousands of index tokens (a long title or a
    run the chunker cannot cut) once failed the whole write; it is matched on its first
    MAX_WORDS tokens instead."""
    from index.milvus_view import MAX_STRING, MAX_WORDS, lexical_words
    from index.prepare import PreparedDocument

    many = ["beta", "gamma"] + [f"alpha{i}" for i in range(MAX_WORDS + 500)]
    assert len(lexical_words(many).encode()) <= MAX_STRING
    doc = make_doc("en/long.txt", "Beta gamma alpha.", language="en")
    store = MilvusStore(str(tmp_path / "m.db"), expected=expectation, refresh_seconds=0.0)
    store.add_documents([doc], fake_embedder)
    chunk = store.snapshot.chunk(
        store.snapshot.dense_search(fake_embedder.embed_queries(["b"]), 1)[0][0].id
    )
    store._write_group(
        [PreparedDocument(doc, [chunk], [many])], fake_embedder.embed_documents([chunk.text])
    )
    store.refresh()
    assert lexical_docs(store.snapshot, "beta gamma") == ["en/long.txt"]
    store.close()


def test_a_milvus_that_stops_answering_fails_the_search_with_store_unavailable(
    tmp_path: Path, expectation: ManifestExpectation, sample_docs, fake_embedder
) -> None:
    import socket
    import subprocess
    import sys
    import time

    from ragqa.errors import StoreUnavailable
    from service.loopback import free_port

    port = free_port()
    arguments = ["--data-dir", str(tmp_path / "m"), "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [sys.executable, "-m", "milvus_lite", "server", *arguments],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and server.poll() is None
            time.sleep(0.2)
        store = MilvusStore(f"http://127.0.0.1:{port}", expected=expectation)
        store.add_documents(sample_docs, fake_embedder)
        view = store.snapshot
        assert dense_docs(view, fake_embedder, "solar")
    finally:
        server.kill()
        server.wait()
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
        view.dense_search(fake_embedder.embed_queries(["solar"]), 3)
    assert time.monotonic() - started < 60
