"""The BM25 build's peak memory and time at a given size, alone: `python -m bench.bm25_memory N`.

Streams the retrieval section's synthetic chunk tokens (bench.synthetic, words and pinyin
n-grams) for N chunks into `index.bm25_build.build_bm25` and prints the matrix's nonzeros, the
build time and the process's peak RSS. No embedder is loaded: the chunk recipes need vectors
only for their noise calibration, so random unit vectors stand in.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Sequence

import numpy as np

from bench.synthetic import (
    ChunkSpec,
    SentencePool,
    chunk_specs,
    chunk_tokens,
    make_corpus,
    sentence_pool,
)
from index.bm25_build import build_bm25
from index.lexical import BM25_B, BM25_K1
from ragqa.config import Settings


class _RandomVectors:
    """Unit vectors, seeded: enough for make_corpus's recipes, which only BM25 reads here."""

    model_id = "random"
    dimension = 8

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        vectors = self.rng.standard_normal((len(texts), self.dimension)).astype(np.float32)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux


def synthetic_chunks(n_chunks: int) -> tuple[SentencePool, list[ChunkSpec]]:
    """The retrieval section's first `n_chunks` synthetic chunk recipes, with no embedder."""
    settings = Settings()
    pool = sentence_pool(settings.collection_dir, settings.max_upload_bytes)
    corpus = make_corpus(pool, _RandomVectors(), 2000, 7)  # type: ignore[arg-type]
    return pool, chunk_specs(corpus, n_chunks)


def main(n_chunks: int) -> str:
    pool, specs = synthetic_chunks(n_chunks)
    before = _peak_gb()
    started = time.perf_counter()
    retriever, _ = build_bm25((chunk_tokens(pool, spec) for spec in specs), k1=BM25_K1, b=BM25_B)
    seconds = time.perf_counter() - started
    nonzeros = len(retriever.scores["data"]) if retriever else 0
    vocabulary = len(retriever.vocab_dict) - 1 if retriever else 0  # less bm25s's empty token
    return (
        f"{n_chunks:,} chunks: {nonzeros:,} nonzeros ({nonzeros / n_chunks:.0f} a chunk) over "
        f"{vocabulary:,} distinct tokens, "
        f"built in {seconds:.0f} s; peak RSS {_peak_gb():.2f} GB (chunk recipes and the "
        f"sentence pool: {before:.2f} GB)"
    )


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
