"""The index folder and the only way to change it: `IndexStore`, composing the parts below.

An update plans and prepares the documents (`index.prepare`), writes and publishes a whole new
generation beside the live one, reusing unchanged rows and vectors (`index.generations`), then
loads it as a new immutable snapshot and swaps the reference (`index.snapshot`), so a crash at
any moment leaves the previous index loadable and a query already running keeps its snapshot.
Older generations are deleted after a successful write, keeping the previous one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from index.backend import IndexStats, UpdateReport
from index.dense import DEFAULT_ANN_THRESHOLD, DenseIndex
from index.documents import Document
from index.embedder import Embedder
from index.generations import (
    CURRENT_FILE,
    GenerationWriter,
    cleanup_generations,
    current_or_none,
    folder_bytes,
    read_current,
    writing_lock,
)
from index.manifest import ManifestExpectation, check_compatible
from index.prepare import (
    BatchPreparer,
    ChunkCounter,
    Failure,
    NoProgress,
    PreparedDocument,
    ProgressSink,
    embed_passages,
    passage_text,
    plan_update,
    prepare_indexable,
)
from index.snapshot import IndexSnapshot, empty_snapshot, load_current
from index.vector_cache import CACHE_FILE, VectorCache
from ragqa.errors import DocumentNotFound, IndexStoreError


class IndexStore:
    """An index folder: the live snapshot, and the only way to change what is indexed."""

    kind = "faiss"

    def __init__(
        self,
        index_dir: Path,
        snapshot: IndexSnapshot,
        *,
        expected: ManifestExpectation | None,
        ann_threshold: int,
    ) -> None:
        self.index_dir = index_dir
        self.expected = expected
        self.ann_threshold = ann_threshold
        self._snapshot = snapshot
        self._swap_lock = threading.Lock()
        self._write_lock = threading.Lock()

    # --- opening ---------------------------------------------------------------------------

    @staticmethod
    def exists(index_dir: Path) -> bool:
        return (index_dir / CURRENT_FILE).exists()

    @classmethod
    def open(
        cls,
        index_dir: Path,
        *,
        expected: ManifestExpectation | None,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> IndexStore:
        """Load the live generation; `expected=None` opens it for inspection and removals only.

        Raises IndexStoreError when files are missing or damaged, IndexMismatch when the index
        was built with other settings than `expected`.
        """
        snapshot = load_current(index_dir)
        if expected is not None:
            check_compatible(snapshot.manifest, expected, where=index_dir)
        return cls(index_dir, snapshot, expected=expected, ann_threshold=ann_threshold)

    @classmethod
    def create_empty(
        cls,
        index_dir: Path,
        *,
        expected: ManifestExpectation,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> IndexStore:
        """Start an index with no documents; refuses a folder that already holds one."""
        if cls.exists(index_dir):
            raise IndexStoreError(
                f"{index_dir}: already holds an index; open it, or rebuild with `ragqa index build`"
            )
        store, _ = cls.build(index_dir, [], None, expected=expected, ann_threshold=ann_threshold)
        return store

    @classmethod
    def build(
        cls,
        index_dir: Path,
        docs: Sequence[Document],
        embedder: Embedder | None,
        *,
        expected: ManifestExpectation,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
        started: float | None = None,
    ) -> tuple[IndexStore, UpdateReport]:
        """Index `docs` from scratch into a new generation, whatever the folder held before."""
        return cls.build_streamed(
            index_dir,
            [docs] if docs else [],
            embedder,
            expected=expected,
            ann_threshold=ann_threshold,
            batch_size=batch_size,
            progress=progress,
            started=started,
        )

    @classmethod
    def build_streamed(
        cls,
        index_dir: Path,
        batches: Iterable[Sequence[Document]],
        embedder: Embedder | None,
        *,
        expected: ManifestExpectation,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
        started: float | None = None,
    ) -> tuple[IndexStore, UpdateReport]:
        """Index batches of documents from scratch into a new generation, whatever the folder
        held before: each batch is prepared (`BatchPreparer`) and stored before the next is
        read; its vectors go to the build cache, so an interrupted build embeds only the rest.

        `started` (a `time.perf_counter()` reading) lets the caller's loading time count in the
        build seconds recorded in the manifest. Progress counts "chunks" as they are embedded.
        """
        started = time.perf_counter() if started is None else started
        progress = progress or NoProgress()
        index_dir.mkdir(parents=True, exist_ok=True)
        store = cls(
            index_dir, empty_snapshot(expected), expected=expected, ann_threshold=ann_threshold
        )
        dimension = expected.embedder.dimension
        parts: list[np.ndarray] = []
        n_chunks = 0
        with store._writer():
            previous = current_or_none(index_dir)
            writer = GenerationWriter(index_dir, base_dir=None, dropped=())
            preparer = BatchPreparer(
                embedder,
                expected.chunking,
                dimension=dimension,
                batch_size=batch_size,
                progress=ChunkCounter(progress),
                make_cache=lambda: store._vector_cache(dimension),
                where=index_dir,
            )
            for docs in batches:
                prepared, vectors = preparer.prepare(docs)
                if not prepared:
                    continue
                writer.add(prepared, np.arange(n_chunks, n_chunks + len(vectors), dtype=np.int64))
                n_chunks += len(vectors)
                parts.append(vectors)
            vectors = np.concatenate(parts) if parts else np.zeros((0, dimension), np.float32)
            parts.clear()
            dense = DenseIndex.build(
                np.arange(n_chunks, dtype=np.int64),
                vectors,
                dimension=dimension,
                ann_threshold=ann_threshold,
            )
            del vectors
            progress.start("writing", 1)
            generation = writer.publish(
                dense, expectation=expected, build_seconds=time.perf_counter() - started
            )
            progress.advance("writing")
            if preparer.cache is not None:
                preparer.cache.discard()
            store._swap(load_current(index_dir))
            store._cleanup(keep={generation} | ({previous} if previous else set()))
        return store, UpdateReport(
            generation=generation,
            added=tuple(sorted(preparer.indexed)),
            chunks_added=n_chunks,
            failures=tuple(preparer.failures),
            seconds=time.perf_counter() - started,
        )

    # --- reading ---------------------------------------------------------------------------

    @property
    def snapshot(self) -> IndexSnapshot:
        with self._swap_lock:
            return self._snapshot

    def _swap(self, snapshot: IndexSnapshot) -> None:
        with self._swap_lock:
            self._snapshot = snapshot

    def refresh(self) -> bool:
        """Load the live generation if another process changed it; True when it did."""
        if read_current(self.index_dir) == self.snapshot.generation:
            return False
        snapshot = load_current(self.index_dir)
        if self.expected is not None:
            check_compatible(snapshot.manifest, self.expected, where=self.index_dir)
        self._swap(snapshot)
        return True

    def stats(self) -> IndexStats:
        snapshot = self.snapshot
        manifest = snapshot.manifest
        return IndexStats(
            store=self.kind,
            location=str(self.index_dir),
            generation=snapshot.generation,
            n_documents=manifest.n_documents,
            n_chunks=manifest.n_chunks,
            languages=tuple(sorted(snapshot.languages)),
            embedder_id=manifest.embedder.model_id,
            embedder_fingerprint=manifest.embedder.fingerprint,
            dimension=manifest.embedder.dimension,
            search_index=manifest.faiss_factory,
            chunk_size=manifest.chunking.chunk_size,
            chunk_overlap=manifest.chunking.chunk_overlap,
            generation_bytes=folder_bytes(snapshot.directory),
            disk_bytes=folder_bytes(self.index_dir),
            created_at=manifest.created_at,
            build_seconds=manifest.build_seconds,
        )

    # --- writing ---------------------------------------------------------------------------

    def add_documents(
        self,
        docs: Sequence[Document],
        embedder: Embedder,
        *,
        batch_size: int = 32,
        progress: ProgressSink | None = None,
    ) -> UpdateReport:
        """Index new and changed documents; unchanged ones (same content hash) are skipped.

        A changed document's old chunks are replaced. Documents that yield no chunk, or that
        appear twice in `docs`, are reported as failures; the rest still go in.
        """
        return self._update(
            docs,
            embedder,
            (),
            batch_size=batch_size,
            progress=progress or NoProgress(),
            started=time.perf_counter(),
        )

    def remove_documents(self, doc_ids: Sequence[str]) -> UpdateReport:
        """Remove documents by id; an unknown id raises DocumentNotFound and changes nothing."""
        return self._update(
            (),
            None,
            doc_ids,
            batch_size=1,
            progress=NoProgress(),
            started=time.perf_counter(),
        )

    @contextmanager
    def _writer(self) -> Iterator[None]:
        with self._write_lock, writing_lock(self.index_dir):
            yield

    def _latest_base(self) -> IndexSnapshot:
        """The live generation on disk, which another process may have moved past ours."""
        self.refresh()
        return self.snapshot

    def _update(
        self,
        docs: Sequence[Document],
        embedder: Embedder | None,
        remove_ids: Sequence[str],
        *,
        batch_size: int,
        progress: ProgressSink,
        started: float,
    ) -> UpdateReport:
        """Add, replace and remove documents in a new generation made from the live one."""
        with self._writer():
            previous = current_or_none(self.index_dir)
            base = self._latest_base()
            unknown = sorted(set(remove_ids) - set(base.documents))
            if unknown:
                raise DocumentNotFound(unknown[0])
            plan = plan_update(docs, base.documents)
            prepared: list[PreparedDocument] = []
            unindexable: list[Failure] = []
            if plan.to_index:
                if embedder is None or self.expected is None:
                    raise IndexStoreError(
                        f"{self.index_dir}: adding documents needs the configured embedder "
                        "and settings (this index was opened for inspection only)"
                    )
                prepared, unindexable = prepare_indexable(
                    plan.to_index, embedder, self.expected.chunking, progress
                )
            failures = plan.failures + unindexable
            indexed = {item.doc.doc_id for item in prepared}
            replaced = sorted(indexed & set(base.documents))
            dropped = set(remove_ids) | set(replaced)
            if not (prepared or dropped):
                return UpdateReport(
                    generation=base.generation,
                    unchanged=tuple(plan.unchanged),
                    failures=tuple(failures),
                    seconds=time.perf_counter() - started,
                )
            dimension = base.manifest.embedder.dimension
            texts = [passage_text(chunk) for item in prepared for chunk in item.chunks]
            vectors = (
                embed_passages(
                    texts, embedder, dimension=dimension, batch_size=batch_size, progress=progress
                )
                if embedder is not None
                else np.zeros((0, dimension), dtype=np.float32)
            )
            first_id = int(base.chunk_ids().max(initial=-1)) + 1
            new_ids = np.arange(first_id, first_id + len(vectors), dtype=np.int64)
            dropped_chunk_ids = base.chunk_ids_of(dropped)
            dense = base.dense.updated(
                remove_ids=dropped_chunk_ids,
                add_ids=new_ids,
                add_vectors=vectors,
                ann_threshold=self.ann_threshold,
            )
            progress.start("writing", 1)
            # An update that fails leaves the folder as it was: no vector cache, and the new
            # generation stays a .partial folder that the next cleanup deletes.
            writer = GenerationWriter(
                self.index_dir, base_dir=base.directory, dropped=sorted(dropped)
            )
            writer.add(prepared, new_ids)
            generation = writer.publish(
                dense,
                expectation=self._expectation(base),
                build_seconds=base.manifest.build_seconds,
            )
            progress.advance("writing")
            self._swap(load_current(self.index_dir))
            self._cleanup(keep={generation} | ({previous} if previous else set()))
        return UpdateReport(
            generation=generation,
            added=tuple(sorted(indexed - set(replaced))),
            replaced=tuple(replaced),
            unchanged=tuple(plan.unchanged),
            removed=tuple(sorted(set(remove_ids))),
            chunks_added=len(new_ids),
            chunks_removed=len(dropped_chunk_ids),
            failures=tuple(failures),
            seconds=time.perf_counter() - started,
        )

    def _vector_cache(self, dimension: int) -> VectorCache:
        """Vectors of an interrupted write of this folder, reused; see `index.vector_cache`."""
        embedder = self.expected.embedder.fingerprint if self.expected else "unknown"
        return VectorCache(self.index_dir / CACHE_FILE, embedder=embedder, dimension=dimension)

    def _expectation(self, base: IndexSnapshot) -> ManifestExpectation:
        """The settings a new generation records: the configured ones, else the base's own."""
        if self.expected is not None:
            return self.expected
        manifest = base.manifest
        return ManifestExpectation(
            format_version=manifest.format_version,
            embedder=manifest.embedder,
            chunking=manifest.chunking,
            lexical=manifest.lexical,
        )

    def _cleanup(self, *, keep: set[str]) -> None:
        """Delete other generations (crashed writes, older ones) unless a reader is loading."""
        cleanup_generations(self.index_dir, keep=keep)
