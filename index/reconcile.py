"""The collection folder compared with the index at start-up, after `recover`.

Files that disagree for reasons other than an interrupted write (copied in by hand, edited in
place, left by a crash under an older version) are reported, re-indexed or quarantined.
"""

from __future__ import annotations

import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from index.collection import sha256_of, transaction_lock
from index.embedder import Embedder
from index.generations import fsync_path
from index.loaders import iter_collection, load_document
from index.store import IndexStore
from ragqa.config import ReconcileMode
from ragqa.errors import DocumentError, excerpt

log = logging.getLogger(__name__)

QUARANTINE_DIR = "quarantine"


@dataclass(frozen=True)
class ReconcileReport:
    """How the collection folder and the index disagreed at start-up, and what was done."""

    unindexed: tuple[str, ...] = ()  # files in the folder the index does not hold
    changed: tuple[str, ...] = ()  # files whose bytes differ from what was indexed
    missing: tuple[str, ...] = ()  # indexed documents with no file in the folder
    indexed: tuple[str, ...] = ()  # files (re-)indexed now (mode "index")
    quarantined: tuple[str, ...] = ()  # files moved out of the folder (mode "quarantine")
    failures: tuple[str, ...] = ()  # files that could not be indexed, and why


def reconcile(
    store: IndexStore,
    embedder: Embedder,
    collection_dir: Path,
    *,
    mode: ReconcileMode = "report",
    max_bytes: int,
) -> ReconcileReport:
    """Compare the collection folder with the index and log every difference.

    Files the index lacks or holds in another version are re-indexed in mode "index", and
    unindexed files are moved to `index_dir/quarantine/` in mode "quarantine". Indexed documents
    without a file are only reported: `ragqa index add` indexes files from other folders too.
    """
    if not collection_dir.is_dir():
        return ReconcileReport()
    with transaction_lock(store.index_dir):
        store.refresh()
        documents = store.snapshot.documents
        on_disk = dict(iter_collection(collection_dir))
        unindexed = tuple(d for d in on_disk if d not in documents)
        changed = tuple(
            d
            for d, path in on_disk.items()
            if d in documents and sha256_of(path) != documents[d].content_hash
        )
        missing = tuple(sorted(set(documents) - set(on_disk)))
        report = ReconcileReport(unindexed, changed, missing)
        if mode == "index" and (unindexed or changed):
            report = _reindex(store, embedder, report, on_disk, max_bytes)
        elif mode == "quarantine" and unindexed:
            report = _quarantine(store.index_dir, collection_dir, report, on_disk)
    _log_report(report, mode)
    return report


def _reindex(
    store: IndexStore,
    embedder: Embedder,
    report: ReconcileReport,
    on_disk: dict[str, Path],
    max_bytes: int,
) -> ReconcileReport:
    loaded, failures = [], []
    for doc_id in (*report.unindexed, *report.changed):
        try:
            loaded.append(load_document(on_disk[doc_id], doc_id=doc_id, max_bytes=max_bytes))
        except DocumentError as error:
            failures.append(f"{excerpt(doc_id)}: {error.reason}")
    update = store.add_documents(loaded, embedder) if loaded else None
    indexed = (*update.added, *update.replaced) if update else ()
    failures += [f"{excerpt(f.path)}: {f.reason}" for f in (update.failures if update else ())]
    return ReconcileReport(
        report.unindexed, report.changed, report.missing, indexed, (), tuple(failures)
    )


def _quarantine(
    index_dir: Path, collection_dir: Path, report: ReconcileReport, on_disk: dict[str, Path]
) -> ReconcileReport:
    folder = index_dir / QUARANTINE_DIR / time.strftime("%Y%m%dT%H%M%S")
    for doc_id in report.unindexed:
        destination = folder / doc_id
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(on_disk[doc_id], destination)
    fsync_path(collection_dir)
    return ReconcileReport(
        report.unindexed, report.changed, report.missing, quarantined=report.unindexed
    )


def _log_report(report: ReconcileReport, mode: ReconcileMode) -> None:
    def names(ids: tuple[str, ...]) -> str:
        shown = ", ".join(repr(excerpt(d)) for d in ids[:10])
        return shown + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")

    if report.unindexed and mode == "report":
        log.warning("collection files not in the index: %s", names(report.unindexed))
    if report.changed and mode != "index":
        log.warning("collection files changed since indexed: %s", names(report.changed))
    if report.missing:
        log.warning("indexed documents with no file in the collection: %s", names(report.missing))
    if report.indexed:
        log.warning("indexed collection files the index lacked: %s", names(report.indexed))
    if report.quarantined:
        log.warning("moved unindexed files to the quarantine: %s", names(report.quarantined))
    for failure in report.failures:
        log.warning("collection file not indexed: %s", failure)
