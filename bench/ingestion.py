"""Section 2: chunks per second through `build_index` vs the embedder's raw `encode`.

Documents are synthetic but real-ish: each is sentences of one bundled document recombined
with a seeded RNG, about as long as the bundled articles, written as .txt files, so loading,
cleaning, chunking, BM25 tokenisation, embedding and the crash-safe write all run.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.report import Section, Table, Target, median, ratio
from bench.synthetic import SentencePool, sentence_pool
from index.embedder import Embedder
from index.ingest import build_index
from index.prepare import passage_text
from index.store import IndexStore
from ragqa.config import Settings
from ragqa.models.embedders import SentenceTransformerEmbedder

TARGET_RATIO = 0.9


@dataclass(frozen=True)
class IngestionOptions:
    documents: int
    rounds: int
    seed: int = 11


FULL = IngestionOptions(documents=30, rounds=3)
QUICK = IngestionOptions(documents=6, rounds=1)


class TimedEmbedder:
    """Delegates to an embedder, adding up the seconds spent in each of its methods."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dimension = inner.dimension
        self.seconds: dict[str, float] = {"embed_documents": 0.0, "count_tokens": 0.0}
        self.calls: dict[str, int] = {"embed_documents": 0, "count_tokens": 0}

    def _timed(self, name: str, call: Any, *args: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self.seconds[name] += time.perf_counter() - started
            self.calls[name] += 1

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        result: np.ndarray = self._timed("embed_documents", self.inner.embed_documents, texts)
        return result

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.embed_queries(texts)

    def count_tokens(self, text: str) -> int:
        result: int = self._timed("count_tokens", self.inner.count_tokens, text)
        return result


def write_collection(pool: SentencePool, folder: Path, count: int, seed: int) -> int:
    """`count` documents, each a shuffle of one bundled document's sentences; total bytes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    total = 0
    for n in range(count):
        source = n % len(pool.by_document)
        order = rng.permutation(pool.by_document[source])
        paragraphs = []
        for begin in range(0, len(order), 4):
            paragraphs.append(
                pool.joiners[source].join(pool.sentences[i] for i in order[begin : begin + 4])
            )
        text = f"{pool.titles[source]} ({n})\n\n" + "\n\n".join(paragraphs) + "\n"
        total += (folder / f"doc_{n:05d}.txt").write_bytes(text.encode("utf-8"))
    return total


@dataclass
class RoundResult:
    chunks: int
    ingest_s: float
    embed_in_ingest_s: float
    count_tokens_s: float
    st_encode_s: float  # SentenceTransformer.encode_document, one call
    engine_encode_s: float  # the configured embedder's embed_documents, one call


def _st_encode(reference: SentenceTransformerEmbedder, texts: Sequence[str], batch: int) -> float:
    """One `encode_document` call over every text, as sentence-transformers is meant to be
    used (it sorts by length, so batches carry little padding)."""
    started = time.perf_counter()
    reference.model.encode_document(
        list(texts),
        batch_size=batch,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return time.perf_counter() - started


def _engine_encode(embedder: Embedder, texts: Sequence[str]) -> float:
    started = time.perf_counter()
    embedder.embed_documents(list(texts))
    return time.perf_counter() - started


def measure_round(
    settings: Settings,
    embedder: Embedder,
    reference: SentenceTransformerEmbedder,
    collection: Path,
    work: Path,
) -> RoundResult:
    timed = TimedEmbedder(embedder)
    round_settings = settings.model_copy(
        update={"collection_dir": collection, "index_dir": work / f"index-{time.time_ns()}"}
    )
    started = time.perf_counter()
    report = build_index(round_settings, timed, progress=False)
    ingest_s = time.perf_counter() - started
    snapshot = IndexStore.open(round_settings.index_dir, expected=None).snapshot
    texts = [passage_text(snapshot.chunk(int(i))) for i in snapshot.chunk_ids()]
    return RoundResult(
        chunks=report.chunks,
        ingest_s=ingest_s,
        embed_in_ingest_s=timed.seconds["embed_documents"],
        count_tokens_s=timed.seconds["count_tokens"],
        st_encode_s=_st_encode(reference, texts, settings.embed_batch_size),
        engine_encode_s=_engine_encode(embedder, texts),
    )


def run_ingestion(
    section: Section,
    settings: Settings,
    embedder: Embedder,
    reference: SentenceTransformerEmbedder,
    options: IngestionOptions,
) -> Section:
    """`embedder` is the configured one (what build_index uses); `reference` the same model
    in sentence-transformers, whose raw encode ingestion is compared with."""
    engine = type(embedder).__name__
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    with tempfile.TemporaryDirectory(prefix="ragqa-bench-ingest-") as tmp:
        collection = Path(tmp) / "collection"
        size = write_collection(pool, collection, options.documents, options.seed)
        warm = [pool.sentences[0]] * 8  # both models warmed up before the first round
        _st_encode(reference, warm, 8)
        _engine_encode(embedder, warm)
        rounds = [
            measure_round(settings, embedder, reference, collection, Path(tmp))
            for _ in range(options.rounds)
        ]
    chunks = rounds[0].chunks
    ingest_rate = median([chunks / r.ingest_s for r in rounds])
    st_rate = median([chunks / r.st_encode_s for r in rounds])
    engine_rate = median([chunks / r.engine_encode_s for r in rounds])
    value = ratio(ingest_rate, st_rate)
    overhead = ratio(ingest_rate, engine_rate)
    ingest_s = median([r.ingest_s for r in rounds])
    embed_s = median([r.embed_in_ingest_s for r in rounds])
    count_s = median([r.count_tokens_s for r in rounds])
    section.tables.append(
        Table(
            "Throughput (chunks/s, median of rounds)",
            ["path", "chunks/s", "vs raw sentence-transformers encode", "seconds"],
            [
                [f"build_index (whole ingestion, {engine})", ingest_rate, value, ingest_s],
                [
                    "SentenceTransformer.encode_document, one call",
                    st_rate,
                    1.0,
                    median([r.st_encode_s for r in rounds]),
                ],
                [
                    f"{engine}.embed_documents, one call",
                    engine_rate,
                    ratio(engine_rate, st_rate),
                    median([r.engine_encode_s for r in rounds]),
                ],
            ],
        )
    )
    section.tables.append(
        Table(
            "Where build_index spends its time (median s)",
            ["stage", "seconds", "share"],
            [
                ["embedding (embed_documents)", embed_s, ratio(embed_s, ingest_s)],
                ["chunk sizing (count_tokens)", count_s, ratio(count_s, ingest_s)],
                [
                    "everything else (load, clean, BM25 tokens, write, fsync)",
                    ingest_s - embed_s - count_s,
                    ratio(ingest_s - embed_s - count_s, ingest_s),
                ],
            ],
        )
    )
    section.targets += [
        Target(
            name="build_index / raw SentenceTransformer.encode throughput",
            goal=f">= {TARGET_RATIO:g}x",
            measured=f"{value:.2f}x",
            met=value >= TARGET_RATIO,
            why=""
            if value >= TARGET_RATIO
            else (
                f"embedding takes {embed_s:.1f} s of {ingest_s:.1f} s; sentence-transformers "
                f"encodes at {st_rate:.1f} chunks/s, {engine} at {engine_rate:.1f}; chunk "
                f"sizing costs {count_s:.1f} s"
            ),
        ),
        Target(
            name=f"build_index / raw {engine}.embed_documents (ingestion's own overhead)",
            goal=f">= {TARGET_RATIO:g}x",
            measured=f"{overhead:.2f}x",
            met=overhead >= TARGET_RATIO,
            why="" if overhead >= TARGET_RATIO else f"chunk sizing costs {count_s:.1f} s",
        ),
    ]
    section.notes += [
        f"Collection: {options.documents} documents ({size / 1024:.0f} KiB), each the sentences "
        f"of one bundled article shuffled with a seeded RNG, {chunks} chunks at chunk_size "
        f"{settings.chunk_size}; {options.rounds} round(s), each building a fresh index.",
        "Raw encode: SentenceTransformer.encode_document (the e5 'passage' prompt ingestion "
        "also uses) over the very chunk texts ingestion embedded (title + text), batch size "
        f"{settings.embed_batch_size}, normalised, in this process right after the build; then "
        f"the configured embedder ({engine}, the one build_index uses) over the same texts in "
        "one call. Both give the same vectors (the ONNX export is checked against "
        "sentence-transformers when it is made).",
    ]
    return section
