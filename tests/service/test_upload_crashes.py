"""An upload or deletion killed with SIGKILL at each step is, after a restart, fully there or
fully absent: the collection folder, the index and the API agree.

A subprocess runs the write through `index.collection` (what the router calls) over the real
store with the fake embedder, and kills itself when the write reaches the named step. The test
then starts the real app over the same folders, as a restart would.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from index.collection import STAGING_DIR
from index.reconcile import reconcile
from ragqa.config import Settings
from service.app import create_app
from tests.service.conftest import REPO, build_fake_answerer, make_settings

AUTH = {"Authorization": "Bearer test-key"}
OLD = b"The Quorvian salt mine opens for tours at nine in the morning."
NEW = b"The Quorvian salt mine now opens for tours at eleven, since the spring floods."
FRESH = b"The Brackwater ferry crosses the estuary every forty minutes in summer."

_WRITER = r"""
import os, signal, sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
from index import collection
from index.ingest import expectation_for
from index.store import IndexStore
from ragqa.config import Settings
from tests.conftest import FakeEmbedder

root, op, doc_id, data_file, stage = sys.argv[2:7]
settings = Settings(collection_dir=Path(root) / "corpus", index_dir=Path(root) / "index",
                    chunk_size=120)


def crash(reached):
    if reached == stage:
        os.kill(os.getpid(), signal.SIGKILL)


collection.stage_hook = crash
embedder = FakeEmbedder()
store = IndexStore.open(settings.index_dir, expected=expectation_for(settings, embedder))
if op == "put":
    collection.put_document(
        store, embedder, settings.collection_dir, doc_id, Path(data_file).read_bytes()
    )
else:
    collection.remove_document(store, settings.collection_dir, doc_id)
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus plus `keep.txt` (OLD), indexed with the fake embedder."""
    root = tmp_path_factory.mktemp("crash-template")
    settings = make_settings(root)
    (settings.collection_dir / "keep.txt").write_bytes(OLD)
    build_fake_answerer(settings)
    return root


def run_writer(root: Path, op: str, doc_id: str, data: bytes, stage: str) -> int:
    """Run one write in a real process that SIGKILLs itself at `stage`; its exit code."""
    data_file = root.parent / f"{root.name}-upload.bin"
    data_file.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-c", _WRITER, str(REPO), str(root), op, doc_id, str(data_file), stage],
        cwd=root,  # no .env of the developer's
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, -9), result.stderr
    return result.returncode


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "root"
    shutil.copytree(template, target)
    return target


def assert_folder_and_index_agree(client: TestClient, settings: Settings) -> None:
    """Every file is indexed with its exact bytes, every document has its file, nothing staged."""
    answerer = client.app.state.ragqa.answerer  # type: ignore[attr-defined]
    documents = answerer.store.snapshot.documents
    files = {p.name: p for p in settings.collection_dir.iterdir()}
    assert sorted(files) == sorted(documents), "a hidden or unindexed file, or a lost one"
    for name, path in files.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == documents[name].content_hash
    assert not list((settings.index_dir / STAGING_DIR).iterdir())
    listed = [d["doc_id"] for d in client.get("/v1/documents").json()["documents"]]
    assert sorted(listed) == sorted(documents)
    report = reconcile(
        answerer.store,
        answerer.embedder,
        settings.collection_dir,
        max_bytes=settings.max_upload_bytes,
    )
    assert not (report.unindexed or report.changed or report.missing), report


def state_of(client: TestClient, settings: Settings, doc_id: str) -> bytes | None:
    """The document's bytes on disk, after checking the API serves that same version."""
    path = settings.collection_dir / doc_id
    response = client.get(f"/v1/documents/{doc_id}")
    if not path.exists():
        assert response.status_code == 404, response.text
        return None
    assert response.status_code == 200, response.text
    data = path.read_bytes()
    assert data.decode() in response.json()["text"]
    return data


# (operation, document, bytes, step killed at, what a restart must find)
CASES = [
    ("put", "fresh.txt", FRESH, "staged", None),
    ("put", "fresh.txt", FRESH, "writing", None),
    ("put", "fresh.txt", FRESH, "committed", FRESH),
    ("put", "fresh.txt", FRESH, "never", FRESH),
    ("put", "keep.txt", NEW, "journaled", OLD),
    ("put", "keep.txt", NEW, "writing", OLD),
    ("put", "keep.txt", NEW, "committed", NEW),
    ("put", "keep.txt", NEW, "placed", NEW),
    ("remove", "keep.txt", b"", "journaled", OLD),
    ("remove", "keep.txt", b"", "committed", None),
    ("remove", "keep.txt", b"", "placed", None),
]


@pytest.mark.parametrize(
    ("op", "doc_id", "data", "stage", "expected"),
    CASES,
    ids=[f"{c[0]}-{c[1]}-{c[3]}" for c in CASES],
)
def test_a_write_killed_at_any_step_is_fully_there_or_fully_absent_after_a_restart(
    root: Path,
    op: str,
    doc_id: str,
    data: bytes,
    stage: str,
    expected: bytes | None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = run_writer(root, op, doc_id, data, stage)
    assert code == (0 if stage == "never" else -9), "the writer did not reach that step"
    caplog.set_level(logging.WARNING, logger="index.collection")
    settings = make_settings(root)
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        assert state_of(client, settings, doc_id) == expected
        assert_folder_and_index_agree(client, settings)
        if stage != "never":
            assert "interrupted write" in caplog.text  # the recovery is logged
        if expected is not None:  # and the API can remove what is there
            assert client.delete(f"/v1/documents/{doc_id}", headers=AUTH).status_code == 200
            assert not (settings.collection_dir / doc_id).exists()
            assert_folder_and_index_agree(client, settings)


@pytest.mark.parametrize("mode", ["report", "index", "quarantine"])
def test_files_copied_in_by_hand_are_reported_indexed_or_quarantined_at_start_up(
    root: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(root, reconcile_collection=mode)
    (settings.collection_dir / "by-hand.txt").write_bytes(FRESH)
    (settings.collection_dir / "keep.txt").write_bytes(NEW)  # edited in place
    caplog.set_level(logging.WARNING, logger="index.reconcile")
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        found = client.get("/v1/documents/by-hand.txt")
        kept = client.get("/v1/documents/keep.txt").json()["text"]
    assert "by-hand.txt" in caplog.text and "keep.txt" in caplog.text
    quarantined = list((settings.index_dir / "quarantine").glob("*/by-hand.txt"))
    if mode == "index":
        assert found.status_code == 200 and NEW.decode() in kept
    else:
        assert found.status_code == 404 and OLD.decode() in kept
    assert (settings.collection_dir / "by-hand.txt").exists() == (mode != "quarantine")
    assert [q.read_bytes() for q in quarantined] == ([FRESH] if mode == "quarantine" else [])


def test_staged_files_never_enter_the_collection_folder(root: Path) -> None:
    """Killed after staging, the new file is under the index folder only, and goes at restart."""
    assert run_writer(root, "put", "fresh.txt", FRESH, "journaled") == -9
    settings = make_settings(root)
    staged = [p for p in (settings.index_dir / STAGING_DIR).iterdir()]
    assert any(p.read_bytes() == FRESH for p in staged if p.suffix == ".data")
    assert not (settings.collection_dir / "fresh.txt").exists()
    assert not [p for p in settings.collection_dir.iterdir() if p.name.startswith(".")]
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        assert client.get("/v1/documents/fresh.txt").status_code == 404
    assert not list((settings.index_dir / STAGING_DIR).iterdir())
    assert os.listdir(settings.collection_dir)  # the rest of the collection is untouched


def test_an_update_that_fails_after_publishing_is_finished_not_undone(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The generation was published, then the update raised (here: while cleaning up): the
    index holds the new text, so the file must be placed too, not rolled back."""
    from index.store import IndexStore

    def broken_cleanup(self: IndexStore, *, keep: set[str]) -> None:
        raise OSError("disk trouble after the commit")

    settings = make_settings(root)
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        monkeypatch.setattr(IndexStore, "_cleanup", broken_cleanup)
        client_errors = TestClient(client.app, raise_server_exceptions=False)
        response = client_errors.post(
            "/v1/documents", json={"doc_id": "keep.txt", "text": NEW.decode()}, headers=AUTH
        )
        assert response.status_code == 500
        monkeypatch.undo()
        assert state_of(client, settings, "keep.txt") == NEW
        assert_folder_and_index_agree(client, settings)


def test_a_rebuild_after_a_crash_settles_the_interrupted_write_first(root: Path) -> None:
    """`ragqa index build` reads the folder only after finishing the committed replacement."""
    from index.ingest import build_index
    from tests.conftest import FakeEmbedder

    assert run_writer(root, "put", "keep.txt", NEW, "committed") == -9
    settings = make_settings(root)
    assert (settings.collection_dir / "keep.txt").read_bytes() == OLD  # not placed yet
    build_index(settings, FakeEmbedder(), progress=False)
    assert (settings.collection_dir / "keep.txt").read_bytes() == NEW
    with TestClient(create_app(settings, answerer_factory=build_fake_answerer)) as client:
        assert state_of(client, settings, "keep.txt") == NEW
        assert_folder_and_index_agree(client, settings)
