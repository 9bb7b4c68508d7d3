"""Ingestion: files -> cleaned documents -> chunks -> vectors -> a new index generation.

The CLI and the service both come through here, so both record the same settings in the
manifest (`expectation_for`) and both chunk with the embedder's own tokenizer.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from index.backend import ChunkStore, UpdateReport
from index.collection import has_pending_writes, recover
from index.documents import Document
from index.embedder import Embedder
from index.lexical import lexical_settings
from index.loaders import iter_collection, load_document
from index.manifest import ChunkingInfo, EmbedderInfo, ManifestExpectation
from index.prepare import ChunkCounter, Failure, NoProgress, ProgressSink
from index.reconcile import reconcile
from index.store import IndexStore
from ragqa.config import Settings
from ragqa.errors import DocumentError, IndexStoreError
from ragqa.models.resolve import embedder_fingerprint

if TYPE_CHECKING:
    from rich.progress import TaskID

    from index.milvus_store import MilvusStore

_TASK_LABELS = {
    "files": "Reading files",
    "chunking": "Chunking",
    "embedding": "Embedding chunks",
    "chunks": "Chunks indexed",
    "writing": "Writing index",
}
_TASK_UNITS = {
    "files": "documents",
    "chunking": "documents",
    "embedding": "chunks",
    "chunks": "chunks",
}


@dataclass(frozen=True)
class BuildReport:
    location: str  # the index folder, or the Milvus store
    generation: str
    documents: int
    chunks: int
    failures: tuple[Failure, ...]
    seconds: float


def expectation_for(settings: Settings, embedder: Embedder) -> ManifestExpectation:
    """The manifest fields an index built with these settings and this embedder must carry."""
    return ManifestExpectation(
        embedder=EmbedderInfo(
            model_id=embedder.model_id,
            fingerprint=embedder_fingerprint(embedder.model_id),
            dimension=embedder.dimension,
        ),
        chunking=ChunkingInfo(
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            token_counter="embedder tokenizer",
        ),
        lexical=lexical_settings(),
    )


class _RichProgress:
    """One rich progress bar per task, on stderr so stdout stays for results."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(stderr=True)
        self.bars = Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self._tasks: dict[str, TaskID] = {}

    def start(self, task: str, total: int) -> None:
        label = _TASK_LABELS.get(task, task)
        self._tasks[task] = self.bars.add_task(label, total=total or None, rate="")

    def advance(self, task: str, amount: int = 1) -> None:
        """Advance, showing documents/s or chunks/s over the task's whole run so far."""
        task_id = self._tasks[task]
        self.bars.advance(task_id, amount)
        progress = self.bars.tasks[task_id]
        unit = _TASK_UNITS.get(task)
        if unit and progress.elapsed:
            self.bars.update(task_id, rate=f"{progress.completed / progress.elapsed:,.1f} {unit}/s")


@contextmanager
def _progress(show: bool) -> Iterator[ProgressSink]:
    if not show:
        yield NoProgress()
        return
    sink = _RichProgress()
    with sink.bars:
        yield sink


def _load_files(
    files: Sequence[tuple[str, Path]], max_bytes: int, progress: ProgressSink
) -> tuple[list[Document], list[Failure]]:
    """Load each file; one that cannot be read is reported (path and reason), not fatal."""
    progress.start("files", len(files))
    documents: list[Document] = []
    failures: list[Failure] = []
    for doc_id, path in files:
        try:
            documents.append(load_document(path, doc_id=doc_id, max_bytes=max_bytes))
        except DocumentError as error:
            failures.append(Failure(str(path), error.reason))
        progress.advance("files")
    return documents, failures


def build_index(
    settings: Settings, embedder: Embedder, root: Path | None = None, progress: bool = True
) -> BuildReport:
    """Index every file under `root` (default: the collection folder) into a fresh generation.

    Writes a crash interrupted are first finished or undone, so the folder read is the one the
    live index agrees with (a damaged index, the usual reason to rebuild, is skipped).
    """
    started = time.perf_counter()
    if settings.store == "milvus":
        result = build_shared(settings, embedder, root, progress=progress, started=started)
        if progress:
            print_build_summary(result)
        return result
    if has_pending_writes(settings.index_dir):
        with contextlib.suppress(IndexStoreError):
            recover(IndexStore.open(settings.index_dir, expected=None), settings.collection_dir)
    files = list(iter_collection(root or settings.collection_dir))
    load_failures: list[Failure] = []
    with _progress(progress) as sink:
        store, report = IndexStore.build_streamed(
            settings.index_dir,
            _batches_of_documents(files, settings.max_upload_bytes, sink, load_failures),
            embedder,
            expected=expectation_for(settings, embedder),
            batch_size=settings.embed_batch_size,
            progress=sink,
            started=started,
        )
    snapshot = store.snapshot
    result = BuildReport(
        location=str(settings.index_dir),
        generation=report.generation,
        documents=len(snapshot.documents),
        chunks=len(snapshot),
        failures=(*load_failures, *report.failures),
        seconds=time.perf_counter() - started,
    )
    if progress:
        print_build_summary(result)
    return result


BUILD_BATCH = 64  # documents read, embedded and written at a time by a full build


def open_milvus(settings: Settings, expected: ManifestExpectation | None) -> MilvusStore:
    """The Milvus store the settings name (created empty when `expected` is given)."""
    from index.milvus_schema import DenseIndex
    from index.milvus_store import MilvusStore

    token = settings.milvus_token.get_secret_value() if settings.milvus_token else ""
    return MilvusStore(
        settings.milvus_uri,
        expected=expected,
        prefix=settings.milvus_prefix,
        token=token,
        refresh_seconds=settings.store_refresh_s,
        dense=DenseIndex(settings.milvus_index, settings.milvus_nlist),
    )


def _batches_of_documents(
    files: Sequence[tuple[str, Path]],
    max_bytes: int,
    sink: ProgressSink,
    failures: list[Failure],
) -> Iterator[list[Document]]:
    """The files, read BUILD_BATCH at a time as the build asks for them (task "files");
    a file that cannot be read goes to `failures`."""
    sink.start("files", len(files))
    for begin in range(0, len(files), BUILD_BATCH):
        batch = files[begin : begin + BUILD_BATCH]
        documents, load_failures = _load_files(batch, max_bytes, NoProgress())
        failures += load_failures
        yield documents
        sink.advance("files", len(batch))


def build_shared(
    settings: Settings,
    embedder: Embedder,
    root: Path | None,
    *,
    progress: bool,
    started: float | None = None,
    store: MilvusStore | None = None,
) -> BuildReport:
    """Make a shared store hold exactly the files under `root`, in batches of documents.

    Memory stays bounded by the batch, and an interrupted build resumes where it stopped:
    documents already written with the same content are skipped, never duplicated.
    """
    started = time.perf_counter() if started is None else started
    store = store or open_milvus(settings, expectation_for(settings, embedder))
    files = list(iter_collection(root or settings.collection_dir))
    failures: list[Failure] = []
    with _progress(progress) as sink:
        counter = ChunkCounter(sink)
        for documents in _batches_of_documents(files, settings.max_upload_bytes, sink, failures):
            report = store.add_documents(
                documents, embedder, batch_size=settings.embed_batch_size, progress=counter
            )
            failures += report.failures
    wanted = {doc_id for doc_id, _ in files}
    stale = sorted(set(store.snapshot.documents) - wanted)
    if stale:
        store.remove_documents(stale)
    store.flush()
    view = store.snapshot
    return BuildReport(
        location=f"{settings.milvus_uri} ({settings.milvus_prefix}_*)",
        generation=view.generation,
        documents=len(view.documents),
        chunks=len(view),
        failures=tuple(failures),
        seconds=time.perf_counter() - started,
    )


def _doc_ids_of(
    paths: Sequence[Path], collection_dir: Path
) -> tuple[list[tuple[str, Path]], list[Failure]]:
    """(doc id, file) for each path: folders expand to their files.

    A file inside the collection folder keeps its id there; elsewhere a file is known by its
    name, and a file found in a given folder by its path relative to that folder.
    """
    collection = collection_dir.resolve()
    found: list[tuple[str, Path]] = []
    failures: list[Failure] = []
    for path in paths:
        resolved = path.resolve()
        if resolved.is_dir():
            files = [file for _, file in iter_collection(resolved)]
            base = resolved
        elif resolved.is_file():
            files, base = [resolved], resolved.parent
        else:
            failures.append(Failure(str(path), "no such file or folder"))
            continue
        for file in files:
            anchor = collection if file.is_relative_to(collection) else base
            found.append((file.relative_to(anchor).as_posix(), file))
    return found, failures


def open_store(settings: Settings, embedder: Embedder | None) -> ChunkStore:
    """The configured store as it is; `embedder=None` opens it for inspection and removals."""
    expected = expectation_for(settings, embedder) if embedder is not None else None
    if settings.store == "milvus":
        return open_milvus(settings, expected)
    return IndexStore.open(settings.index_dir, expected=expected)


def open_or_build(settings: Settings, embedder: Embedder) -> ChunkStore:
    """The configured index, built from the collection folder first if there is none yet.

    An existing index built with other settings is refused (IndexMismatch), never rebuilt
    behind the user's back. Writes a crash interrupted are finished or undone, then the folder
    is reconciled with the index (`RAGQA_RECONCILE_COLLECTION`), before anyone reads it.
    """
    if settings.store == "milvus":
        shared = open_milvus(settings, expectation_for(settings, embedder))
        if shared.created:  # a new store starts with the collection folder
            build_shared(settings, embedder, None, progress=False, store=shared)
        return shared
    if not IndexStore.exists(settings.index_dir):
        build_index(settings, embedder, progress=False)
    store = IndexStore.open(settings.index_dir, expected=expectation_for(settings, embedder))
    recover(store, settings.collection_dir)
    reconcile(
        store,
        embedder,
        settings.collection_dir,
        mode=settings.reconcile_collection,
        max_bytes=settings.max_upload_bytes,
    )
    return store


def add_paths(
    settings: Settings, embedder: Embedder, paths: Sequence[Path], progress: bool = True
) -> UpdateReport:
    """Add or update files and folders; unreadable ones are reported while the rest go in.

    Starts an empty index when none exists yet.
    """
    started = time.perf_counter()
    expected = expectation_for(settings, embedder)
    with _progress(progress) as sink:
        files, path_failures = _doc_ids_of(paths, settings.collection_dir)
        documents, load_failures = _load_files(files, settings.max_upload_bytes, sink)
        store: ChunkStore
        if settings.store == "milvus":
            store = open_milvus(settings, expected)
        elif IndexStore.exists(settings.index_dir):
            store = IndexStore.open(settings.index_dir, expected=expected)
        else:
            store = IndexStore.create_empty(settings.index_dir, expected=expected)
        report = store.add_documents(
            documents, embedder, batch_size=settings.embed_batch_size, progress=sink
        )
    result = dataclasses.replace(
        report,
        failures=(*path_failures, *load_failures, *report.failures),
        seconds=time.perf_counter() - started,
    )
    if progress:
        print_update_summary(result)
    return result


def _print_failures(failures: Sequence[Failure]) -> None:
    for failure in failures:
        print(f"  not indexed: {failure.path}: {failure.reason}", file=sys.stderr)


def print_build_summary(report: BuildReport) -> None:
    print(
        f"Indexed {report.documents} documents as {report.chunks} chunks into "
        f"{report.location} (generation {report.generation}) in {report.seconds:.1f} s; "
        f"{len(report.failures)} failed."
    )
    _print_failures(report.failures)


def print_update_summary(report: UpdateReport) -> None:
    print(
        f"Added {len(report.added)}, replaced {len(report.replaced)}, removed "
        f"{len(report.removed)}, skipped {len(report.unchanged)} unchanged documents "
        f"(+{report.chunks_added} / -{report.chunks_removed} chunks) in {report.seconds:.1f} s; "
        f"{len(report.failures)} failed. Live generation: {report.generation}."
    )
    _print_failures(report.failures)
