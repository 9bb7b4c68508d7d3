"""Ingestion: collection folders and loose files into the index, failures reported."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.ingest import add_paths, build_index, expectation_for, open_or_build
from index.store import IndexStore
from ragqa.config import Settings
from ragqa.errors import IndexMismatch

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def collection(tmp_path: Path) -> Path:
    root = tmp_path / "collection"
    write(root / "hospital.txt", "山西医科大学第一医院开设了新的心脏病中心。" * 6)
    write(root / "news" / "solar.md", "# Nevada Solar Farm\n\nThe solar farm powers homes. " * 4)
    write(root / "empty.txt", "")
    return root


@pytest.fixture
def settings(tmp_path: Path, collection: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        collection_dir=collection,
        index_dir=tmp_path / "index",
        chunk_size=48,
        embed_batch_size=4,
        max_upload_bytes=10_000,
    )


def test_build_indexes_every_readable_file_and_reports_the_rest(
    settings: Settings, fake_embedder, collection: Path
) -> None:
    report = build_index(settings, fake_embedder, progress=False)

    snapshot = IndexStore.open(settings.index_dir, expected=None).snapshot
    assert sorted(snapshot.documents) == ["hospital.txt", "news/solar.md"]
    assert [(f.path, f.reason) for f in report.failures] == [
        (str(collection / "empty.txt"), "empty")
    ]
    assert (report.documents, report.chunks) == (2, len(snapshot))
    assert snapshot.manifest.build_seconds is not None and snapshot.manifest.build_seconds > 0


def test_chunks_are_sized_by_the_embedder_tokenizer_and_the_settings(
    settings: Settings, fake_embedder
) -> None:
    build_index(settings, fake_embedder, progress=False)
    small = IndexStore.open(settings.index_dir, expected=None).snapshot
    larger = settings.model_copy(update={"chunk_size": 200})
    build_index(larger, fake_embedder, progress=False)
    large = IndexStore.open(settings.index_dir, expected=None).snapshot

    assert max(fake_embedder.count_tokens(small.chunk(i).text) for i in small.chunk_ids()) <= 48
    assert len(large) < len(small)
    assert large.manifest.chunking.chunk_size == 200


def test_the_manifest_records_the_embedder_and_settings(settings: Settings, fake_embedder) -> None:
    build_index(settings, fake_embedder, progress=False)

    manifest = IndexStore.open(settings.index_dir, expected=None).snapshot.manifest

    assert manifest.embedder.fingerprint == "hub:fake-embedder"
    assert manifest.embedder.dimension == fake_embedder.dimension
    assert (manifest.chunking.chunk_size, manifest.chunking.chunk_overlap) == (48, 1)
    assert manifest.faiss_factory == "IDMap2,Flat"
    assert {e.doc_id: e.n_chunks > 0 for e in manifest.documents} == {
        "hospital.txt": True,
        "news/solar.md": True,
    }


def test_added_paths_get_ids_by_where_they_are(
    settings: Settings, fake_embedder, collection: Path, tmp_path: Path
) -> None:
    build_index(settings, fake_embedder, progress=False)
    inside = write(collection / "more" / "rail.txt", "臺灣高速鐵路公司宣布增加班次。" * 3)
    loose = write(tmp_path / "elsewhere" / "loose.txt", "A loose file about wind power.")
    folder = tmp_path / "folder"
    write(folder / "deep" / "a.txt", "第一篇。")

    report = add_paths(settings, fake_embedder, [inside, loose, folder], progress=False)

    assert sorted(report.added) == ["deep/a.txt", "loose.txt", "more/rail.txt"]
    assert not report.failures


def test_unreadable_paths_are_reported_while_the_rest_go_in(
    settings: Settings, fake_embedder, collection: Path, tmp_path: Path
) -> None:
    good = write(tmp_path / "good.txt", "好的文件。")
    huge = write(tmp_path / "huge.txt", "大" * 20_000)
    missing = tmp_path / "missing.txt"

    report = add_paths(settings, fake_embedder, [good, huge, missing], progress=False)

    assert report.added == ("good.txt",)
    reasons = {f.path: f.reason for f in report.failures}
    assert reasons[str(missing)] == "no such file or folder"
    assert "over the limit of 10000" in reasons[str(huge)]


def test_adding_again_skips_unchanged_files_and_replaces_changed_ones(
    settings: Settings, fake_embedder, collection: Path
) -> None:
    build_index(settings, fake_embedder, progress=False)
    write(collection / "hospital.txt", "医院的内容改变了。")
    fake_embedder.embedded.clear()

    report = add_paths(settings, fake_embedder, [collection], progress=False)

    assert report.replaced == ("hospital.txt",) and report.unchanged == ("news/solar.md",)
    assert len(fake_embedder.embedded) == 1
    assert fake_embedder.embedded[0].endswith("医院的内容改变了。")


def test_open_or_build_builds_once_then_opens_and_refuses_other_settings(
    settings: Settings, fake_embedder
) -> None:
    built = open_or_build(settings, fake_embedder)
    reopened = open_or_build(settings, fake_embedder)

    assert reopened.snapshot.generation == built.snapshot.generation
    with pytest.raises(IndexMismatch, match="chunk_size: configured 64, stored 48"):
        open_or_build(settings.model_copy(update={"chunk_size": 64}), fake_embedder)


def test_progress_run_prints_a_summary(
    settings: Settings, fake_embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    build_index(settings, fake_embedder, progress=True)

    out, err = capsys.readouterr()
    assert "Indexed 2 documents" in out and "1 failed" in out
    assert "empty.txt: empty" in err


@pytest.mark.slow
def test_the_bundled_corpus_builds_with_the_real_embedder_and_answers_chinese_queries(
    tmp_path: Path, real_embedder
) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        collection_dir=CORPUS,
        index_dir=tmp_path / "index",
    )

    report = build_index(settings, real_embedder, progress=False)

    store = IndexStore.open(settings.index_dir, expected=expectation_for(settings, real_embedder))
    snapshot = store.snapshot
    stats = store.stats()
    print(
        f"\nbundled corpus: {stats.n_documents} documents, {stats.n_chunks} chunks, "
        f"languages {stats.languages}, built in {stats.build_seconds:.1f} s"
    )
    assert report.failures == () and stats.n_documents == 5 == len(list(CORPUS.iterdir()))
    assert stats.languages == ("en", "zh") and stats.build_seconds is not None

    dense_query = "西安交通大学第一附属医院召开的医工协同科技创新学术年会"
    dense = snapshot.dense_search(real_embedder.embed_queries([dense_query]), 3)[0]
    assert snapshot.chunk(dense[0].id).doc_id == "002_1f9a42b8d58ce531.txt"
    lexical = snapshot.lexical_search("第二届全国分子影像精准诊疗协同创新高峰论坛", 3)
    assert snapshot.chunk(lexical[0].id).doc_id == "000_09db86074c66971f.txt"


def test_a_milvus_build_again_duplicates_nothing_and_follows_the_folder(
    settings: Settings, collection: Path, tmp_path: Path, fake_embedder
) -> None:
    """Building into Milvus twice (an interrupted build run again) skips what is there; a file
    gone from the folder leaves the store; no stored row outlives its document."""
    from index.ingest import open_store

    shared = settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "m.db")})
    first = build_index(shared, fake_embedder, progress=False)
    again = build_index(shared, fake_embedder, progress=False)
    assert (again.documents, again.chunks) == (first.documents, first.chunks) == (2, first.chunks)
    (collection / "hospital.txt").unlink()
    after = build_index(shared, fake_embedder, progress=False)
    store = open_store(shared, fake_embedder)
    assert sorted(store.snapshot.documents) == ["news/solar.md"]
    rows = store.client.query(store.names.chunks, filter='doc_id != ""', output_fields=["doc_id"])  # type: ignore[attr-defined]
    assert len(rows) == after.chunks == store.snapshot.documents["news/solar.md"].n_chunks
