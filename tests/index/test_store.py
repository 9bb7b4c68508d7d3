"""Index store: generations on disk, snapshots in memory, updates that never half-happen."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from index.documents import Document
from index.generations import CHUNKS_DB, CURRENT_FILE, GENERATIONS_DIR
from index.manifest import ManifestExpectation
from index.prepare import passage_text
from index.snapshot import IndexSnapshot
from index.store import IndexStore
from ragqa.errors import DocumentNotFound, IndexMismatch, IndexStoreError

REPO = Path(__file__).resolve().parents[2]
QUERIES = ["医院心脏病中心", "台湾高铁时刻表", "solar electricity homes", "新的"]

State = dict[str, tuple[str, bytes]]


def state_of(snapshot: IndexSnapshot) -> State:
    """What a snapshot holds: chunk id -> (text, vector bytes), independent of integer ids."""
    vectors = dict(zip(snapshot.dense.ids.tolist(), snapshot.dense.vectors, strict=True))
    return {
        snapshot.chunk(i).chunk_id: (snapshot.chunk(i).text, vectors[i].tobytes())
        for i in snapshot.chunk_ids().tolist()
    }


def results_of(snapshot: IndexSnapshot, embedder) -> list[object]:
    """Dense and lexical results of QUERIES, by integer id and score."""
    vectors = embedder.embed_queries(QUERIES)
    return [snapshot.dense_search(vectors, 5)] + [snapshot.lexical_search(q, 5) for q in QUERIES]


def generation_names(index_dir: Path) -> list[str]:
    return sorted(entry.name for entry in (index_dir / GENERATIONS_DIR).iterdir())


def live_dir(index_dir: Path) -> Path:
    return index_dir / GENERATIONS_DIR / (index_dir / CURRENT_FILE).read_text().strip()


# --- building and opening ----------------------------------------------------------------------


def test_open_loads_exactly_what_was_built(
    sample_store: IndexStore, index_dir: Path, expectation: ManifestExpectation, fake_embedder
) -> None:
    reopened = IndexStore.open(index_dir, expected=expectation).snapshot
    built = sample_store.snapshot

    assert state_of(reopened) == state_of(built)
    assert dict(reopened.documents) == dict(built.documents)
    assert reopened.languages == {"zh", "en"}
    assert results_of(reopened, fake_embedder) == results_of(built, fake_embedder)


def test_chunks_are_exact_slices_of_the_stored_document_text(
    sample_store: IndexStore, sample_docs: list[Document]
) -> None:
    snapshot = sample_store.snapshot
    for doc in sample_docs:
        assert snapshot.document_text(doc.doc_id) == doc.text
    for i in snapshot.chunk_ids().tolist():
        chunk = snapshot.chunk(i)
        assert snapshot.document_text(chunk.doc_id)[chunk.start : chunk.end] == chunk.text
    assert sum(e.n_chunks for e in snapshot.documents.values()) == len(snapshot)


def test_each_chunk_is_embedded_with_its_title(
    index_dir: Path, expectation: ManifestExpectation, fake_embedder, sample_docs: list[Document]
) -> None:
    store, _ = IndexStore.build(index_dir, sample_docs, fake_embedder, expected=expectation)
    snapshot = store.snapshot

    chunks = [snapshot.chunk(i) for i in snapshot.chunk_ids().tolist()]
    assert sorted(fake_embedder.embedded) == sorted(passage_text(c) for c in chunks)
    assert all(passage_text(c).startswith(c.title) and c.title for c in chunks)


def test_vectors_stay_with_their_chunks_when_batches_are_ordered_by_length(
    index_dir: Path, expectation: ManifestExpectation, fake_embedder, sample_docs: list[Document]
) -> None:
    store, _ = IndexStore.build(index_dir, sample_docs, fake_embedder, expected=expectation)
    snapshot = store.snapshot
    for i in snapshot.chunk_ids().tolist():
        own = fake_embedder.embed_documents([passage_text(snapshot.chunk(i))])
        assert snapshot.dense_search(own, 1)[0][0].id == i


def test_searches_find_the_right_document(sample_store: IndexStore, fake_embedder) -> None:
    snapshot = sample_store.snapshot

    lexical = snapshot.lexical_search("臺灣高鐵的時刻表", 3)
    dense = snapshot.dense_search(fake_embedder.embed_queries(["Nevada solar farm"]), 1)

    assert snapshot.chunk(lexical[0].id).doc_id == "zh-hant/rail.txt"
    assert snapshot.chunk(dense[0][0].id).doc_id == "en/solar.txt"


def test_an_empty_index_answers_with_nothing(
    index_dir: Path, expectation: ManifestExpectation, fake_embedder
) -> None:
    store = IndexStore.create_empty(index_dir, expected=expectation)

    snapshot = IndexStore.open(index_dir, expected=expectation).snapshot
    assert len(snapshot) == 0 and not snapshot.documents and not snapshot.languages
    assert snapshot.lexical_search("anything", 5) == []
    assert snapshot.dense_search(fake_embedder.embed_queries(["anything"]), 5) == [[]]
    assert store.stats().n_documents == 0


def test_create_empty_refuses_a_folder_that_holds_an_index(
    sample_store: IndexStore, index_dir: Path, expectation: ManifestExpectation
) -> None:
    with pytest.raises(IndexStoreError, match="already holds an index"):
        IndexStore.create_empty(index_dir, expected=expectation)


def test_opening_a_folder_without_an_index_says_how_to_build_one(
    tmp_path: Path, expectation: ManifestExpectation
) -> None:
    with pytest.raises(IndexStoreError, match="ragqa index build"):
        IndexStore.open(tmp_path / "nothing", expected=expectation)


# --- updates -----------------------------------------------------------------------------------


def test_add_then_remove_leaves_search_results_exactly_as_before(
    sample_store: IndexStore, fake_embedder, make_doc: Callable[..., Document]
) -> None:
    before = sample_store.snapshot
    extra = make_doc("zh/new.txt", "新的心脏病医院在台湾开设。太阳能发电站也在建设中。" * 4)

    added = sample_store.add_documents([extra], fake_embedder)
    assert added.added == ("zh/new.txt",) and added.chunks_added > 0
    assert results_of(sample_store.snapshot, fake_embedder) != results_of(before, fake_embedder)
    removed = sample_store.remove_documents(["zh/new.txt"])

    after = sample_store.snapshot
    assert removed.removed == ("zh/new.txt",) and removed.chunks_removed == added.chunks_added
    assert after.generation != before.generation
    assert state_of(after) == state_of(before)
    assert results_of(after, fake_embedder) == results_of(before, fake_embedder)


def test_a_changed_document_is_the_only_one_re_embedded(
    sample_store: IndexStore,
    fake_embedder,
    sample_docs: list[Document],
    make_doc: Callable[..., Document],
) -> None:
    fake_embedder.embedded.clear()
    changed = make_doc(
        "en/solar.txt", "A wind farm in Texas opened today.", title="Wind", language="en"
    )

    report = sample_store.add_documents([changed, *sample_docs[:2]], fake_embedder)

    snapshot = sample_store.snapshot
    assert report.replaced == ("en/solar.txt",)
    assert sorted(report.unchanged) == sorted(d.doc_id for d in sample_docs[:2])
    assert fake_embedder.embedded == [f"Wind\n{changed.text}"]
    assert snapshot.document_text("en/solar.txt") == changed.text
    assert snapshot.documents["en/solar.txt"].n_chunks == 1
    assert snapshot.lexical_search("Nevada", 5) == []
    assert snapshot.chunk(snapshot.lexical_search("Texas wind", 1)[0].id).doc_id == "en/solar.txt"


def test_adding_only_unchanged_documents_writes_no_generation(
    sample_store: IndexStore, index_dir: Path, fake_embedder, sample_docs: list[Document]
) -> None:
    before = generation_names(index_dir)
    fake_embedder.embedded.clear()

    report = sample_store.add_documents(sample_docs, fake_embedder)

    assert report.generation == sample_store.snapshot.generation
    assert len(report.unchanged) == len(sample_docs) and not report.added
    assert generation_names(index_dir) == before and fake_embedder.embedded == []


def test_removing_an_unknown_document_raises_and_changes_nothing(
    sample_store: IndexStore, index_dir: Path
) -> None:
    before = (index_dir / CURRENT_FILE).read_text()

    with pytest.raises(DocumentNotFound, match=r"nope\.txt"):
        sample_store.remove_documents(["zh/hospital.txt", "nope.txt"])

    assert (index_dir / CURRENT_FILE).read_text() == before
    assert "zh/hospital.txt" in sample_store.snapshot.documents


def test_duplicates_and_empty_documents_are_reported_while_the_rest_go_in(
    sample_store: IndexStore, fake_embedder, make_doc: Callable[..., Document]
) -> None:
    good = make_doc("a.txt", "第一篇文章的内容。")
    report = sample_store.add_documents(
        [good, make_doc("a.txt", "另一个版本。"), make_doc("blank.txt", "")], fake_embedder
    )

    assert report.added == ("a.txt",)
    assert {(f.path, f.reason) for f in report.failures} == {
        ("a.txt", "given twice in one update"),
        ("blank.txt", "no text to index"),
    }
    assert sample_store.snapshot.document_text("a.txt") == good.text


def test_an_index_opened_for_inspection_can_remove_but_not_add(
    sample_store: IndexStore, index_dir: Path, fake_embedder, make_doc: Callable[..., Document]
) -> None:
    inspecting = IndexStore.open(index_dir, expected=None)

    with pytest.raises(IndexStoreError, match="inspection"):
        inspecting.add_documents([make_doc("b.txt", "内容。")], fake_embedder)
    inspecting.remove_documents(["en/solar.txt"])

    assert "en/solar.txt" not in inspecting.snapshot.documents


def test_a_writer_builds_on_what_another_process_wrote(
    sample_store: IndexStore,
    index_dir: Path,
    expectation: ManifestExpectation,
    fake_embedder,
    make_doc: Callable[..., Document],
) -> None:
    other = IndexStore.open(index_dir, expected=expectation)
    other.add_documents([make_doc("other.txt", "另一个进程写入的文件。")], fake_embedder)

    sample_store.add_documents([make_doc("mine.txt", "这个进程写入的文件。")], fake_embedder)

    assert {"other.txt", "mine.txt"} <= set(sample_store.snapshot.documents)
    assert other.refresh() and set(other.snapshot.documents) == set(sample_store.snapshot.documents)


def test_old_and_crashed_generations_are_cleaned_up_keeping_the_previous(
    sample_store: IndexStore, index_dir: Path
) -> None:
    (index_dir / GENERATIONS_DIR / "000090.partial").mkdir()
    (index_dir / f"{CURRENT_FILE}.tmp").write_text("000090\n")
    first = sample_store.snapshot.generation

    sample_store.remove_documents(["en/solar.txt"])
    second = sample_store.snapshot.generation
    sample_store.remove_documents(["zh/hospital.txt"])

    assert generation_names(index_dir) == sorted([second, sample_store.snapshot.generation])
    assert first not in generation_names(index_dir)
    assert not (index_dir / f"{CURRENT_FILE}.tmp").exists()


def test_readers_keep_their_snapshot_while_an_update_runs(
    sample_store: IndexStore, fake_embedder, make_doc: Callable[..., Document]
) -> None:
    held = sample_store.snapshot
    expected = results_of(held, fake_embedder)
    mismatches: list[object] = []
    reads = 0
    stop = threading.Event()

    def read_continuously() -> None:
        nonlocal reads
        while not stop.is_set():
            if results_of(held, fake_embedder) != expected:
                mismatches.append(reads)
            assert held.document_text("en/solar.txt")
            reads += 1

    reader = threading.Thread(target=read_continuously)
    reader.start()
    try:
        sample_store.remove_documents(["en/solar.txt"])
        sample_store.add_documents(
            [make_doc(f"n{i}.txt", "新的心脏病医院。" * 20) for i in range(20)], fake_embedder
        )
    finally:
        stop.set()
        reader.join()

    assert reads > 0 and mismatches == []
    assert "en/solar.txt" not in sample_store.snapshot.documents
    assert sample_store.snapshot is not held


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    operations=st.lists(
        st.tuples(st.sampled_from(["add", "remove"]), st.integers(0, 5), st.integers(0, 2)),
        min_size=1,
        max_size=6,
    )
)
def test_any_sequence_of_updates_equals_a_fresh_build_of_the_result(
    tmp_path_factory: pytest.TempPathFactory,
    expectation: ManifestExpectation,
    fake_embedder,
    make_doc: Callable[..., Document],
    operations: list[tuple[str, int, int]],
) -> None:
    """Incremental updates must hold exactly what building the final set from scratch holds."""
    root = tmp_path_factory.mktemp("ops")
    store = IndexStore.create_empty(root / "incremental", expected=expectation)
    current: dict[str, Document] = {}
    for operation, number, version in operations:
        doc_id = f"doc{number}.txt"
        if operation == "add":
            text = f"文件{number}的第{version}个版本。" + "内容很长的句子。" * (number + version)
            current[doc_id] = make_doc(doc_id, text)
            store.add_documents([current[doc_id]], fake_embedder)
        elif doc_id in current:
            store.remove_documents([doc_id])
            del current[doc_id]

    fresh, _ = IndexStore.build(
        root / "fresh", list(current.values()), fake_embedder, expected=expectation
    )
    assert state_of(store.snapshot) == state_of(fresh.snapshot)
    assert dict(store.snapshot.documents) == dict(fresh.snapshot.documents)
    for query in [*QUERIES, "文件3", "版本"]:  # same scores per chunk (ties may swap rank)
        assert scored_chunk_ids(store.snapshot, query) == scored_chunk_ids(fresh.snapshot, query)


def scored_chunk_ids(snapshot: IndexSnapshot, query: str) -> dict[str, float]:
    return {
        snapshot.chunk(hit.id).chunk_id: round(hit.score, 5)
        for hit in snapshot.lexical_search(query, 100)
    }


def test_an_index_past_the_ann_threshold_uses_ivf_through_updates_and_reopening(
    index_dir: Path,
    expectation: ManifestExpectation,
    fake_embedder,
    sample_docs: list[Document],
    make_doc: Callable[..., Document],
) -> None:
    store, _ = IndexStore.build(
        index_dir, sample_docs, fake_embedder, expected=expectation, ann_threshold=2
    )
    store.add_documents([make_doc("more.txt", "更多的医院新闻。" * 10)], fake_embedder)
    store.remove_documents(["zh/hospital.txt"])

    reopened = IndexStore.open(index_dir, expected=expectation, ann_threshold=2)
    factory = reopened.snapshot.manifest.faiss_factory
    assert factory.startswith("IVF") and reopened.stats().search_index == factory
    assert state_of(reopened.snapshot) == state_of(store.snapshot)
    query = fake_embedder.embed_queries(["Nevada solar farm"])
    assert reopened.snapshot.chunk(reopened.snapshot.dense_search(query, 1)[0][0].id).doc_id == (
        "en/solar.txt"
    )


# --- compatibility and damage ------------------------------------------------------------------


def test_an_index_built_with_other_settings_is_refused_naming_each_difference(
    sample_store: IndexStore, index_dir: Path, make_expectation: Callable[..., ManifestExpectation]
) -> None:
    other = make_expectation(chunk_size=200, chunk_overlap=0)

    with pytest.raises(IndexMismatch) as raised:
        IndexStore.open(index_dir, expected=other)

    message = str(raised.value)
    assert "chunk_size: configured 200, stored 80" in message
    assert "chunk_overlap: configured 0, stored 1" in message
    assert "ragqa index build" in message and "dimension" not in message


def test_another_embedder_is_refused(
    sample_store: IndexStore, index_dir: Path, expectation: ManifestExpectation
) -> None:
    embedder = expectation.embedder.model_copy(update={"fingerprint": "abc", "dimension": 32})
    other = expectation.model_copy(update={"embedder": embedder})

    with pytest.raises(IndexMismatch, match="embedder fingerprint: configured 'abc") as raised:
        IndexStore.open(index_dir, expected=other)
    assert "embedder dimension: configured 32, stored 64" in str(raised.value)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("relative", "damage"),
    [
        ("manifest.json", truncate),
        ("manifest.json", Path.unlink),
        (CHUNKS_DB, truncate),
        (CHUNKS_DB, Path.unlink),
        ("dense/index.faiss", truncate),
        ("dense/vectors.npy", flip_last_byte),
        ("lexical/vocab.index.json", truncate),
        ("lexical/ids.npy", Path.unlink),
    ],
)
def test_a_damaged_or_missing_file_raises_index_store_error_naming_it(
    sample_store: IndexStore,
    index_dir: Path,
    expectation: ManifestExpectation,
    relative: str,
    damage: Callable[[Path], object],
) -> None:
    path = live_dir(index_dir) / relative
    damage(path)

    with pytest.raises(IndexStoreError, match=str(path)):
        IndexStore.open(index_dir, expected=expectation)


def test_a_damaged_current_file_or_missing_generation_is_reported(
    sample_store: IndexStore, index_dir: Path, expectation: ManifestExpectation
) -> None:
    shutil.rmtree(live_dir(index_dir))
    with pytest.raises(IndexStoreError, match="is missing"):
        IndexStore.open(index_dir, expected=expectation)

    (index_dir / CURRENT_FILE).write_text("../../etc\n")
    with pytest.raises(IndexStoreError, match="not a generation name"):
        IndexStore.open(index_dir, expected=expectation)


def test_a_database_that_fails_its_integrity_check_is_refused_even_with_a_matching_hash(
    sample_store: IndexStore, index_dir: Path, expectation: ManifestExpectation
) -> None:
    """The manifest checksums are not the only line of defence: SQLite is checked too."""
    directory = live_dir(index_dir)
    database = directory / CHUNKS_DB
    truncate(database)
    manifest = json.loads((directory / "manifest.json").read_text())
    from index.manifest import file_sha256

    manifest["files"][CHUNKS_DB] = file_sha256(database)
    (directory / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(IndexStoreError, match=str(database)):
        IndexStore.open(index_dir, expected=expectation)


# --- crash safety ------------------------------------------------------------------------------

_UPDATE_SCRIPT = """
import hashlib, importlib.util, sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
spec = importlib.util.spec_from_file_location("root_conftest", sys.argv[1] + "/tests/conftest.py")
conftest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(conftest)
from index.documents import Document, DocumentMeta
from index.manifest import ManifestExpectation
from index.store import IndexStore


class AnnounceWriting:
    def start(self, task, total):
        if task == "writing":
            print("writing", flush=True)

    def advance(self, task, amount=1):
        pass


def doc(doc_id, text, title):
    return Document(doc_id=doc_id, text=text, meta=DocumentMeta(title=title),
                    content_hash=hashlib.sha256(text.encode()).hexdigest(), language="zh")


expected = ManifestExpectation.model_validate_json(sys.argv[3])
store = IndexStore.open(Path(sys.argv[2]), expected=expected)
body = "山西省的新医院今天开业，医生们很高兴。" * 20
docs = [doc("zh/hospital.txt", "医院的内容已经改变。" * 5, "医院新中心")] + [
    doc(f"batch/{i}.txt", f"第{i}篇新闻。" + body, f"新闻{i}") for i in range(int(sys.argv[4]))
]
print("start", flush=True)
store.add_documents(docs, conftest.FakeEmbedder(), progress=AnnounceWriting())
print("done", flush=True)
"""


def _run_update(
    index_dir: Path, expectation: ManifestExpectation, n_docs: int, kill_after: float | None
) -> tuple[dict[str, float], int]:
    """Run an update in a real process, SIGKILLing it `kill_after` s after it starts updating."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _UPDATE_SCRIPT,
            str(REPO),
            str(index_dir),
            expectation.model_dump_json(),
            str(n_docs),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "start"
    started = time.perf_counter()
    marks: dict[str, float] = {}
    if kill_after is not None:
        time.sleep(kill_after)
        process.send_signal(signal.SIGKILL)
    for line in process.stdout:
        marks[line.strip()] = time.perf_counter() - started
    return marks, process.wait()


def test_an_update_killed_at_any_moment_leaves_the_old_or_the_new_index(
    sample_store: IndexStore,
    index_dir: Path,
    expectation: ManifestExpectation,
    tmp_path: Path,
) -> None:
    n_docs = 150
    old_state = state_of(sample_store.snapshot)
    calibration = tmp_path / "calibration"
    shutil.copytree(index_dir, calibration)
    marks, code = _run_update(calibration, expectation, n_docs, kill_after=None)
    assert code == 0, "the update must succeed when left alone"
    new_state = state_of(IndexStore.open(calibration, expected=expectation).snapshot)
    assert new_state != old_state

    # Half the kills while chunking and embedding, half while the generation is written.
    rng = np.random.default_rng(1234)
    delays = sorted(
        [*rng.uniform(0, marks["writing"], 5), *rng.uniform(marks["writing"], marks["done"], 5)]
    )
    outcomes = []
    for n, delay in enumerate(delays):
        trial = tmp_path / f"trial{n}"
        shutil.copytree(index_dir, trial)
        _, code = _run_update(trial, expectation, n_docs, kill_after=delay)

        store = IndexStore.open(trial, expected=expectation)
        state = state_of(store.snapshot)
        assert state in (old_state, new_state), f"killed after {delay:.3f} s: a mixed index"
        outcomes.append("new" if state == new_state else "old")
        store.remove_documents(["en/solar.txt"])  # the next write cleans up after the crash
        assert not [p for p in (trial / GENERATIONS_DIR).iterdir() if p.suffix == ".partial"]
        assert len(generation_names(trial)) <= 2
        assert os.listdir(trial / GENERATIONS_DIR)
    print(
        f"\nupdate of {n_docs} docs: writing at {marks['writing']:.2f} s, done at "
        f"{marks['done']:.2f} s; kills at {[round(float(d), 2) for d in delays]} -> {outcomes}"
    )


class _FailingAfter:
    """Embeds like `inner` until `budget` texts are spent, then fails (an interrupted build)."""

    def __init__(self, inner, budget: int) -> None:
        self.inner, self.budget = inner, budget
        self.model_id, self.dimension = inner.model_id, inner.dimension

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_documents(self, texts):
        if len(texts) > self.budget:
            raise KeyboardInterrupt
        self.budget -= len(texts)
        return self.inner.embed_documents(texts)


def test_an_interrupted_build_resumes_without_embedding_again(
    tmp_path: Path,
    expectation: ManifestExpectation,
    sample_docs: list[Document],
    make_doc: Callable[..., Document],
    fake_embedder,
) -> None:
    from index.vector_cache import CACHE_FILE

    FakeEmbedder = type(fake_embedder)  # noqa: N806 - fresh ones, each counting its own texts
    docs = sample_docs + [make_doc(f"more/{i}.txt", f"第{i}篇文章。" * 30) for i in range(8)]
    reference, _ = IndexStore.build(tmp_path / "ref", docs, FakeEmbedder(), expected=expectation)
    total = len(reference.snapshot)

    index_dir = tmp_path / "index"
    first = FakeEmbedder()
    with pytest.raises(KeyboardInterrupt):
        IndexStore.build(
            index_dir, docs, _FailingAfter(first, 6), expected=expectation, batch_size=2
        )
    assert (index_dir / CACHE_FILE).is_file() and not IndexStore.exists(index_dir)

    second = FakeEmbedder()
    store, report = IndexStore.build(index_dir, docs, second, expected=expectation, batch_size=2)
    assert len(first.embedded) == 6
    assert len(second.embedded) == total - 6  # only what the first run had not embedded
    assert report.chunks_added == total
    assert state_of(store.snapshot) == state_of(reference.snapshot)
    assert not (index_dir / CACHE_FILE).exists()


def test_a_build_in_batches_makes_the_index_one_batch_makes(
    tmp_path: Path,
    expectation: ManifestExpectation,
    sample_docs: list[Document],
    make_doc: Callable[..., Document],
    fake_embedder,
) -> None:
    """`build_streamed` stores batch after batch (bounded memory); the result is the same index,
    and a document a later batch names again is reported, not indexed twice."""
    docs = sample_docs + [make_doc(f"more/{i}.txt", f"第{i}篇文章。" * 30) for i in range(5)]
    reference, _ = IndexStore.build(tmp_path / "ref", docs, fake_embedder, expected=expectation)
    batches = [docs[i : i + 2] for i in range(0, len(docs), 2)] + [[docs[0]]]
    store, report = IndexStore.build_streamed(
        tmp_path / "index", iter(batches), fake_embedder, expected=expectation, batch_size=3
    )
    assert state_of(store.snapshot) == state_of(reference.snapshot)
    assert report.added == tuple(sorted(d.doc_id for d in docs))
    assert report.chunks_added == len(reference.snapshot)
    assert [(f.path, f.reason) for f in report.failures] == [(docs[0].doc_id, "given twice")]


def test_a_batched_build_interrupted_midway_resumes_and_leaves_no_partial_generation(
    tmp_path: Path,
    expectation: ManifestExpectation,
    make_doc: Callable[..., Document],
    fake_embedder,
) -> None:
    from index.vector_cache import CACHE_FILE

    FakeEmbedder = type(fake_embedder)  # noqa: N806
    docs = [
        make_doc(f"d/{i}.txt", "".join(f"第{i}篇文章的第{j}句讲核医学。" for j in range(20)))
        for i in range(6)
    ]
    batches = [docs[i : i + 2] for i in range(0, len(docs), 2)]
    index_dir = tmp_path / "index"
    old, _ = IndexStore.build(index_dir, docs[:1], FakeEmbedder(), expected=expectation)
    first = FakeEmbedder()
    with pytest.raises(KeyboardInterrupt):
        IndexStore.build_streamed(
            index_dir, iter(batches), _FailingAfter(first, 5), expected=expectation, batch_size=1
        )
    assert state_of(IndexStore.open(index_dir, expected=expectation).snapshot) == state_of(
        old.snapshot
    )  # readers still see the previous generation whole
    second = FakeEmbedder()
    store, report = IndexStore.build_streamed(
        index_dir, iter(batches), second, expected=expectation, batch_size=1
    )
    assert len(first.embedded) == 5
    assert len(second.embedded) == report.chunks_added - 5
    assert sorted(store.snapshot.documents) == sorted(d.doc_id for d in docs)
    assert not [p for p in (index_dir / GENERATIONS_DIR).iterdir() if p.suffix == ".partial"]
    assert not (index_dir / CACHE_FILE).exists()
