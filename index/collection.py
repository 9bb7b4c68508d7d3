"""The collection folder and the index changed together: uploads and deletions as transactions.

A write stages the new file under `index_dir/staging/`, records its intent in a journal there,
publishes the index generation (the commit point) and only then moves the file into the
collection folder. After a crash at any step, `recover` (run at start-up) finishes a write whose
generation was published and undoes any other, so an interrupted write is fully there or fully
absent. `index.reconcile` then compares the whole folder with the index.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from index.backend import ChunkStore, UpdateReport
from index.documents import Document
from index.embedder import Embedder
from index.generations import fsync_path
from index.loaders import load_bytes
from index.manifest import DocumentEntry
from index.store import IndexStore
from ragqa.errors import DocumentNotFound, InvalidRequest, RagqaError, excerpt

log = logging.getLogger(__name__)

STAGING_DIR = "staging"
_LOCK = ".collection.lock"  # held for a whole transaction, and by recovery
_JOURNAL = ".json"
_DATA = ".data"

# Called with the name of each step a transaction reaches ("staged", "journaled", "writing",
# "committed", "placed"); the crash tests set it to kill the process at one of them.
stage_hook: Callable[[str], None] | None = None


def _reached(stage: str) -> None:
    if stage_hook is not None:
        stage_hook(stage)


class _CrashPoints:
    """Progress sink for the index update: reports when the new generation starts being written."""

    def start(self, task: str, total: int) -> None:
        if task == "writing":
            _reached("writing")

    def advance(self, task: str, amount: int = 1) -> None:
        """Only the start of writing matters here."""


# --- files ------------------------------------------------------------------------------------


def _write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary name, fsynced, so it is whole or absent."""
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    fsync_path(path.parent)


def sha256_of(path: Path) -> str:
    """A file's SHA-256, as the loaders record it for a document's content hash."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _place(source: Path, target: Path, txid: str) -> None:
    """Move the staged `source` to `target` atomically, copying first across file systems."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        incoming = target.with_name(f".ragqa-{txid}.part")  # hidden: never read as a document
        shutil.copyfile(source, incoming)
        with incoming.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(incoming, target)
        source.unlink()
    fsync_path(target.parent)


def _inside(collection_dir: Path, doc_id: str) -> Path:
    """The file of `doc_id` in the collection folder; never a path outside it."""
    root = collection_dir.resolve()
    target = (root / doc_id).resolve()
    if not target.is_relative_to(root) or target == root:
        raise InvalidRequest(f"file name {excerpt(doc_id)!r} is not allowed")
    return target


@contextlib.contextmanager
def transaction_lock(index_dir: Path) -> Iterator[None]:
    """One transaction (or recovery) at a time, across threads and processes.

    flock locks belong to an open file, so a second thread opening the file waits too; the
    kernel releases the lock of a killed process.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(index_dir / _LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


@dataclass(frozen=True)
class _Journal:
    """One transaction's intent: put `doc_id` with `content_hash`, or remove it."""

    txid: str
    op: Literal["put", "remove"]
    doc_id: str
    content_hash: str = ""

    @staticmethod
    def staging(index_dir: Path) -> Path:
        return index_dir / STAGING_DIR

    def path(self, index_dir: Path) -> Path:
        return self.staging(index_dir) / f"{self.txid}{_JOURNAL}"

    def data(self, index_dir: Path) -> Path:
        return self.staging(index_dir) / f"{self.txid}{_DATA}"

    def write(self, index_dir: Path) -> None:
        record = {"op": self.op, "doc_id": self.doc_id, "content_hash": self.content_hash}
        _write_durably(self.path(index_dir), json.dumps(record).encode())

    def close(self, index_dir: Path) -> None:
        """The transaction is over (done or undone): forget it."""
        self.data(index_dir).unlink(missing_ok=True)
        self.path(index_dir).unlink(missing_ok=True)
        fsync_path(self.staging(index_dir))


# --- transactions -----------------------------------------------------------------------------


def put_document(
    store: ChunkStore, embedder: Embedder, collection_dir: Path, doc_id: str, data: bytes
) -> UpdateReport:
    """Add or replace the document `doc_id` with the file `data`, in the folder and the index.

    The bytes are parsed before anything is written. The same content under the same name is
    left unchanged; the same content under another name is refused (InvalidRequest).
    """
    document = load_bytes(data, doc_id=doc_id, filename=doc_id)
    if not isinstance(store, IndexStore):  # a shared store is the collection: no folder
        _refuse_twin(store.snapshot.documents, document)
        return store.add_documents([document], embedder)
    target = _inside(collection_dir, doc_id)
    index_dir = store.index_dir
    with transaction_lock(index_dir):
        store.refresh()
        documents = store.snapshot.documents
        existing = documents.get(doc_id)
        if existing is not None and existing.content_hash == document.content_hash:
            return UpdateReport(generation=store.snapshot.generation, unchanged=(doc_id,))
        _refuse_twin(documents, document)

        journal = _Journal(uuid.uuid4().hex, "put", doc_id, document.content_hash)
        journal.staging(index_dir).mkdir(exist_ok=True)
        _write_durably(journal.data(index_dir), data)
        _reached("staged")
        journal.write(index_dir)
        _reached("journaled")
        try:
            report = store.add_documents([document], embedder, progress=_CrashPoints())
        except BaseException:
            _settle(store, journal, collection_dir)
            raise
        _reached("committed")
        _place(journal.data(index_dir), target, journal.txid)
        _reached("placed")
        journal.close(index_dir)
    return report


def _refuse_twin(documents: Mapping[str, DocumentEntry], document: Document) -> None:
    """The same content under another name is refused (InvalidRequest)."""
    twins = [
        e.doc_id
        for e in documents.values()
        if e.content_hash == document.content_hash and e.doc_id != document.doc_id
    ]
    if twins:
        raise InvalidRequest(f"the same content is already indexed as {excerpt(twins[0])!r}")


def remove_document(store: ChunkStore, collection_dir: Path, doc_id: str) -> UpdateReport:
    """Remove `doc_id` from the index and its file from the collection folder, together.

    An id not in the index raises DocumentNotFound and changes nothing.
    """
    if not isinstance(store, IndexStore):
        return store.remove_documents([doc_id])
    index_dir = store.index_dir
    with transaction_lock(index_dir):
        store.refresh()
        if doc_id not in store.snapshot.documents:
            raise DocumentNotFound(doc_id)
        target = _inside(collection_dir, doc_id)
        journal = _Journal(uuid.uuid4().hex, "remove", doc_id)
        journal.staging(index_dir).mkdir(exist_ok=True)
        journal.write(index_dir)
        _reached("journaled")
        try:
            report = store.remove_documents([doc_id])
        except BaseException:
            _settle(store, journal, collection_dir)
            raise
        _reached("committed")
        _unlink(target)
        _reached("placed")
        journal.close(index_dir)
    return report


def _settle(store: IndexStore, journal: _Journal, collection_dir: Path) -> None:
    """After a failed index update, finish or undo the write as a restart would.

    The update may have failed after publishing its generation (while loading it back, say),
    so the live index decides. When it cannot be read, the journal stays for the next start.
    """
    try:
        store.refresh()
    except RagqaError:
        log.warning("write of %r left to the next start: the index cannot be read", journal.txid)
        return
    _recover_one(journal, store.snapshot.documents, store.index_dir, collection_dir)
    journal.close(store.index_dir)


def _unlink(target: Path) -> None:
    if target.is_file():
        target.unlink()
        fsync_path(target.parent)


# --- start-up ---------------------------------------------------------------------------------


def has_pending_writes(index_dir: Path) -> bool:
    """Whether a crash left a transaction (or staged data) for `recover` to settle."""
    staging = _Journal.staging(index_dir)
    return staging.is_dir() and any(staging.iterdir())


def recover(store: IndexStore, collection_dir: Path) -> list[str]:
    """Finish or undo every transaction a crash interrupted; one log line (returned) for each.

    The live index generation decides: a write it already shows is finished in the folder,
    any other is undone. Staged files without a journal are deleted.
    """
    index_dir = store.index_dir
    staging = _Journal.staging(index_dir)
    if not staging.is_dir():
        return []
    done: list[str] = []
    with transaction_lock(index_dir):
        store.refresh()
        documents = store.snapshot.documents
        for path in sorted(staging.glob(f"*{_JOURNAL}")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                journal = _Journal(
                    path.stem, record["op"], record["doc_id"], record["content_hash"]
                )
            except (OSError, ValueError, KeyError, TypeError):
                message = f"unreadable journal {path.name}: its write is undone"
                path.unlink()
            else:
                try:
                    message = _recover_one(journal, documents, index_dir, collection_dir)
                except InvalidRequest:  # a journal naming a path outside the collection
                    message = f"journal {path.name} names no collection file: discarded"
                journal.close(index_dir)
            log.warning("interrupted write: %s", message)
            done.append(message)
        for leftover in staging.iterdir():  # staged data or a temporary journal, no journal
            if not leftover.name.endswith(_JOURNAL):
                leftover.unlink()
                message = f"staged file {leftover.name} deleted (its write never began)"
                log.warning("interrupted write: %s", message)
                done.append(message)
        for part in collection_dir.glob("**/.ragqa-*.part") if collection_dir.is_dir() else ():
            part.unlink()
    return done


def _recover_one(
    journal: _Journal,
    documents: Mapping[str, DocumentEntry],
    index_dir: Path,
    collection_dir: Path,
) -> str:
    entry = documents.get(journal.doc_id)
    name = excerpt(journal.doc_id)
    target = _inside(collection_dir, journal.doc_id)
    if journal.op == "put":
        if entry is None or entry.content_hash != journal.content_hash:
            return f"upload of {name!r} undone (the index never published it)"
        data = journal.data(index_dir)
        if data.is_file():
            _place(data, target, journal.txid)
        elif not (target.is_file() and sha256_of(target) == journal.content_hash):
            return f"upload of {name!r} was published but its file is lost"
        return f"upload of {name!r} finished (the index had published it)"
    if entry is not None:
        return f"deletion of {name!r} undone (the index still holds it)"
    _unlink(target)
    return f"deletion of {name!r} finished (the index had removed it)"
