"""Synthetic index snapshots of any size, made from the bundled collection's own sentences.

Chunk texts are sentences of the cleaned collection recombined with a seeded RNG (each chunk
takes its sentences from one source document, so its language and title stay consistent).
The first `base_count` chunks are embedded with the real embedder. Embedding a million texts is
out of reach on a CPU, so every later chunk is a variant of base chunk `j % base_count` (its
sentences reshuffled, one swapped for another of the same document) whose vector is the base
vector plus Gaussian noise, renormalised. The noise scale is calibrated: some variants are
embedded for real, and the noise is set so the synthetic vectors sit as far from their base as
real variant embeddings do. BM25 tokens are the concatenated tokens of the chunk's sentences,
each sentence tokenised once, so a million chunks do not cost a million jieba calls.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.chunking import split_sentences
from index.dense import DEFAULT_ANN_THRESHOLD, DenseIndex
from index.documents import Chunk
from index.embedder import Embedder
from index.lexical import LexicalIndex
from index.loaders import load_collection
from index.manifest import DocumentEntry, Manifest, ManifestExpectation
from index.prepare import passage_text
from index.snapshot import IndexSnapshot
from index.textnorm import index_tokens

CHUNKS_PER_DOCUMENT = 10
MIN_CHUNK_CHARS = 120
MAX_CHUNK_CHARS = 360  # a range around the real index's average chunk length
_CALIBRATION_VARIANTS = 64
_BLOCK = 65_536


@dataclass(frozen=True)
class SentencePool:
    """Every sentence of the cleaned collection, with its BM25 tokens (as the index stores
    them: words, then pinyin n-grams) and source document."""

    sentences: list[str]
    tokens: list[list[str]]
    by_document: list[list[int]]  # sentence indices of each source document
    titles: list[str]
    title_tokens: list[list[str]]
    languages: list[str]
    joiners: list[str]  # "" between Chinese sentences, " " between English ones


def sentence_pool(collection_dir: Path, max_bytes: int) -> SentencePool:
    documents, _ = load_collection(collection_dir, max_bytes)
    sentences: list[str] = []
    by_document: list[list[int]] = []
    for doc in documents:
        indices = []
        for start, end in split_sentences(doc.text):
            text = doc.text[start:end].strip()
            if len(text) >= 4:
                indices.append(len(sentences))
                sentences.append(text)
        by_document.append(indices)
    return SentencePool(
        sentences=sentences,
        tokens=[index_tokens(s) for s in sentences],
        by_document=by_document,
        titles=[doc.meta.title for doc in documents],
        title_tokens=[index_tokens(doc.meta.title) for doc in documents],
        languages=[doc.language for doc in documents],
        joiners=["" if doc.language == "zh" else " " for doc in documents],
    )


@dataclass(frozen=True)
class ChunkSpec:
    document: int  # source document in the pool
    sentences: tuple[int, ...]


def _base_spec(pool: SentencePool, rng: np.random.Generator) -> ChunkSpec:
    """A random document's sentences, in random order, until a chunk-like length."""
    weights = np.array([len(s) for s in pool.by_document], dtype=float)
    document = int(rng.choice(len(pool.by_document), p=weights / weights.sum()))
    candidates = pool.by_document[document]
    target = int(rng.integers(MIN_CHUNK_CHARS, MAX_CHUNK_CHARS))
    chosen: list[int] = []
    length = 0
    for position in rng.permutation(len(candidates)):
        chosen.append(candidates[position])
        length += len(pool.sentences[candidates[position]])
        if length >= target:
            break
    return ChunkSpec(document, tuple(chosen))


def _variant_spec(pool: SentencePool, base: ChunkSpec, rng: np.random.Generator) -> ChunkSpec:
    """The base chunk's sentences reshuffled, one replaced by another of the same document."""
    sentences = list(base.sentences)
    candidates = pool.by_document[base.document]
    sentences[int(rng.integers(len(sentences)))] = candidates[int(rng.integers(len(candidates)))]
    order = rng.permutation(len(sentences))
    return ChunkSpec(base.document, tuple(sentences[i] for i in order))


def distinct_chunk_specs(
    pool: SentencePool, count: int, rng: np.random.Generator
) -> list[ChunkSpec]:
    """`count` recombined chunks, no two with the same sentences; a longer list from the same
    seed starts with the shorter one, so every size's chunks include the smaller sizes'."""
    specs: list[ChunkSpec] = []
    seen: set[tuple[int, ...]] = set()
    while len(specs) < count:
        spec = _base_spec(pool, rng)
        if spec.sentences not in seen:
            seen.add(spec.sentences)
            specs.append(spec)
    return specs


def chunk_text(pool: SentencePool, spec: ChunkSpec) -> str:
    return pool.joiners[spec.document].join(pool.sentences[i] for i in spec.sentences)


def chunk_tokens(pool: SentencePool, spec: ChunkSpec) -> list[str]:
    """The chunk's BM25 tokens: its title's, then each sentence's, each tokenised once."""
    return pool.title_tokens[spec.document] + [t for i in spec.sentences for t in pool.tokens[i]]


def chunk_passage(pool: SentencePool, spec: ChunkSpec) -> str:
    """What the embedder sees for this chunk: the store's own passage text (title + text)."""
    text = chunk_text(pool, spec)
    chunk = Chunk("", "", 0, text, 0, len(text), title=pool.titles[spec.document])
    return passage_text(chunk)


def unit_noise(rows: int, dimension: int, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal((rows, dimension), dtype=np.float32)
    return noise / np.linalg.norm(noise, axis=1, keepdims=True)


def normalised(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@dataclass(frozen=True)
class SyntheticCorpus:
    """Base chunks (really embedded) and the recipe for every later chunk."""

    pool: SentencePool
    base_specs: list[ChunkSpec]
    base_vectors: np.ndarray
    noise: float  # norm of the noise added to a base vector
    variant_cosine: float  # median cosine of real variant embeddings to their base
    seed: int
    embed_seconds: float


def make_corpus(
    pool: SentencePool, embedder: Embedder, base_count: int, seed: int
) -> SyntheticCorpus:
    """Embed `base_count` recombined chunks, then calibrate the noise on real variants."""
    rng = np.random.default_rng(seed)
    specs = distinct_chunk_specs(pool, base_count, rng)
    started = time.perf_counter()
    vectors = embedder.embed_documents([chunk_passage(pool, s) for s in specs])
    embed_seconds = time.perf_counter() - started
    sample = specs[: min(_CALIBRATION_VARIANTS, len(specs))]
    variants = [_variant_spec(pool, spec, rng) for spec in sample]
    variant_vectors = embedder.embed_documents([chunk_passage(pool, s) for s in variants])
    cosines = np.sum(variant_vectors * vectors[: len(sample)], axis=1)
    cosine = float(np.clip(np.median(cosines), 0.05, 0.9999))
    return SyntheticCorpus(
        pool=pool,
        base_specs=specs,
        base_vectors=vectors,
        noise=float(np.sqrt(1.0 / cosine**2 - 1.0)),  # cos(v, v + s*u) = 1/sqrt(1+s^2), u ⊥ v
        variant_cosine=cosine,
        seed=seed,
        embed_seconds=embed_seconds,
    )


def chunk_specs(corpus: SyntheticCorpus, n: int) -> list[ChunkSpec]:
    """The first `n` chunks; the same seed gives the same chunks, so sizes are nested."""
    rng = np.random.default_rng(corpus.seed + 1)
    base = corpus.base_specs
    specs = list(base[:n])
    for j in range(len(specs), n):
        specs.append(_variant_spec(corpus.pool, base[j % len(base)], rng))
    return specs


def base_of(chunk: Chunk, corpus: SyntheticCorpus) -> int:
    """Which base chunk a `build_snapshot` chunk is (or varies): near-copies share it."""
    document = int(chunk.doc_id.removeprefix("synthetic/").removesuffix(".txt"))
    return (document * CHUNKS_PER_DOCUMENT + chunk.n) % len(corpus.base_specs)


def chunk_vectors(corpus: SyntheticCorpus, n: int) -> np.ndarray:
    """Real vectors for the base chunks, calibrated noisy copies for the rest."""
    rng = np.random.default_rng(corpus.seed + 2)
    base = corpus.base_vectors
    dimension = base.shape[1]
    out = np.empty((n, dimension), dtype=np.float32)
    head = min(n, len(base))
    out[:head] = base[:head]
    for begin in range(head, n, _BLOCK):
        end = min(n, begin + _BLOCK)
        sources = base[np.arange(begin, end) % len(base)]
        out[begin:end] = normalised(
            sources + corpus.noise * unit_noise(end - begin, dimension, rng)
        )
    return out


@dataclass(frozen=True)
class BuildCost:
    chunks_seconds: float  # chunk records, documents and token lists
    dense_seconds: float  # FAISS index over the vectors
    lexical_seconds: float  # BM25 over the tokens


def build_snapshot(
    corpus: SyntheticCorpus,
    specs: Sequence[ChunkSpec],
    vectors: np.ndarray,
    expected: ManifestExpectation,
    *,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
) -> tuple[IndexSnapshot, BuildCost]:
    """An in-memory snapshot with the store's own dense and lexical index types."""
    pool = corpus.pool
    t0 = time.perf_counter()
    chunks: dict[int, Chunk] = {}
    documents: dict[str, DocumentEntry] = {}
    texts: dict[str, str] = {}
    for first in range(0, len(specs), CHUNKS_PER_DOCUMENT):
        group = specs[first : first + CHUNKS_PER_DOCUMENT]
        doc_id = f"synthetic/{first // CHUNKS_PER_DOCUMENT:07d}.txt"
        parts: list[str] = []
        offset = 0
        for n, spec in enumerate(group):
            text = chunk_text(pool, spec)
            title = pool.titles[spec.document]
            chunks[first + n] = Chunk(
                chunk_id=f"{doc_id}#{n}",
                doc_id=doc_id,
                n=n,
                text=text,
                start=offset,
                end=offset + len(text),
                title=title,
            )
            parts.append(text)
            offset += len(text) + 1
        texts[doc_id] = "\n".join(parts)
        documents[doc_id] = DocumentEntry(
            doc_id=doc_id,
            content_hash="",
            title=pool.titles[group[0].document],
            date="",
            source="synthetic",
            url="",
            language=pool.languages[group[0].document],
            n_chunks=len(group),
        )
    ids = np.arange(len(specs), dtype=np.int64)
    t1 = time.perf_counter()
    dense = DenseIndex.build(ids, vectors, dimension=vectors.shape[1], ann_threshold=ann_threshold)
    t2 = time.perf_counter()
    # Streamed: at a million chunks the lists themselves would not fit.
    token_lists = (chunk_tokens(pool, spec) for spec in specs)
    lexical = LexicalIndex.build(ids, token_lists)
    t3 = time.perf_counter()
    manifest = Manifest.new(
        expected,
        faiss_factory=dense.factory,
        documents=list(documents.values()),
        build_seconds=t3 - t0,
        files={},
    )
    snapshot = IndexSnapshot(
        generation="synthetic",
        directory=Path(),
        manifest=manifest,
        dense=dense,
        lexical=lexical,
        chunks=chunks,
        documents=documents,
        texts=texts,
    )
    return snapshot, BuildCost(t1 - t0, t2 - t1, t3 - t2)


__all__ = [
    "BuildCost",
    "ChunkSpec",
    "SentencePool",
    "SyntheticCorpus",
    "build_snapshot",
    "chunk_passage",
    "chunk_specs",
    "chunk_tokens",
    "chunk_vectors",
    "distinct_chunk_specs",
    "make_corpus",
    "sentence_pool",
]
