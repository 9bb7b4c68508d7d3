"""Dense index: exact below the threshold, an inverted file above it; both survive save/load,
and an HNSW index written by an earlier version still loads and searches."""

from __future__ import annotations

import time
from pathlib import Path

import faiss
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.dense import (
    FLAT_FACTORY,
    HNSW_FACTORY,
    IDS_FILE,
    INDEX_FILE,
    DenseIndex,
    factory_for,
    ivf_lists,
)
from ragqa.errors import IndexStoreError


def unit_vectors(rng: np.random.Generator, n: int, dimension: int) -> np.ndarray:
    vectors = rng.standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def clustered(rng: np.random.Generator, centres: np.ndarray, n: int, noise: float) -> np.ndarray:
    """Points around random cluster centres, normalised: closer to real embeddings than noise."""
    labels = rng.integers(0, len(centres), n)
    points = centres[labels] + noise * rng.standard_normal((n, centres.shape[1]))
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def exact_top_k(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    scores = queries @ vectors.T
    return ids[np.argsort(-scores, axis=1, kind="stable")[:, :k]]


def test_flat_search_equals_brute_force_inner_product() -> None:
    rng = np.random.default_rng(1)
    vectors, queries = unit_vectors(rng, 300, 16), unit_vectors(rng, 20, 16)
    ids = rng.permutation(np.arange(1000, 1300)).astype(np.int64)
    index = DenseIndex.build(ids, vectors, dimension=16)

    scores, found = index.search(queries, 5)

    assert index.factory == FLAT_FACTORY
    np.testing.assert_array_equal(found, exact_top_k(vectors, ids, queries, 5))
    expected_scores = np.sort(queries @ vectors.T, axis=1)[:, ::-1][:, :5]
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-5)


def test_ann_recall_against_exact_search() -> None:
    """The inverted file above the threshold finds >= 95% of the exact top 10 (figure printed)."""
    rng = np.random.default_rng(20240501)
    centres = rng.standard_normal((100, 384)).astype(np.float32)
    vectors = clustered(rng, centres, 20_000, noise=2.0)
    queries = clustered(rng, centres, 300, noise=2.0)
    ids = np.arange(20_000, dtype=np.int64)

    started = time.perf_counter()
    index = DenseIndex.build(ids, vectors, dimension=384, ann_threshold=10_000)
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    _, found = index.search(queries, 10)
    ms_per_query = (time.perf_counter() - started) / len(queries) * 1000

    truth = exact_top_k(vectors, ids, queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
    print(
        f"\n{index.factory} recall@10 = {recall:.4f} over {len(queries)} queries "
        f"(20k x 384, build {build_seconds:.1f} s, {ms_per_query:.2f} ms/query)"
    )
    assert index.factory == factory_for(20_000, 10_000) == f"IVF{ivf_lists(20_000)},Flat"
    assert recall >= 0.95


def test_an_hnsw_index_of_an_earlier_version_still_searches(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    vectors = unit_vectors(rng, 300, 16)
    ids = np.arange(300, dtype=np.int64)
    hnsw = faiss.index_factory(16, HNSW_FACTORY, faiss.METRIC_INNER_PRODUCT)
    hnsw.add_with_ids(vectors, ids)
    DenseIndex(ids=ids, vectors=vectors, factory=HNSW_FACTORY, index=hnsw).save(tmp_path)
    loaded = DenseIndex.load(tmp_path, factory=HNSW_FACTORY)
    _, found = loaded.search(vectors[:5], 1)
    assert found[:, 0].tolist() == [0, 1, 2, 3, 4]


def test_k_is_capped_at_the_number_of_vectors_without_padding() -> None:
    rng = np.random.default_rng(2)
    index = DenseIndex.build(np.arange(3), unit_vectors(rng, 3, 8), dimension=8)

    scores, found = index.search(unit_vectors(rng, 2, 8), 10)

    assert found.shape == scores.shape == (2, 3)
    assert (found >= 0).all()


def test_an_empty_index_finds_nothing_and_round_trips(tmp_path: Path) -> None:
    index = DenseIndex.build(
        np.zeros(0, dtype=np.int64), np.zeros((0, 8), dtype=np.float32), dimension=8
    )
    index.save(tmp_path)
    loaded = DenseIndex.load(tmp_path, factory=index.factory)

    scores, found = loaded.search(np.ones((1, 8), dtype=np.float32), 5)

    assert found.shape == scores.shape == (1, 0)


@pytest.mark.parametrize("ann_threshold", [1_000, 50], ids=["flat", "ivf"])
def test_save_then_load_gives_the_same_results(tmp_path: Path, ann_threshold: int) -> None:
    rng = np.random.default_rng(3)
    vectors, queries = unit_vectors(rng, 200, 32), unit_vectors(rng, 10, 32)
    index = DenseIndex.build(np.arange(200), vectors, dimension=32, ann_threshold=ann_threshold)
    index.save(tmp_path)

    loaded = DenseIndex.load(tmp_path, factory=index.factory)

    np.testing.assert_array_equal(loaded.ids, index.ids)
    np.testing.assert_array_equal(loaded.vectors, index.vectors)
    for original, reloaded in zip(index.search(queries, 7), loaded.search(queries, 7), strict=True):
        np.testing.assert_array_equal(original, reloaded)


@settings(max_examples=25, deadline=None)
@given(
    n_old=st.integers(0, 60),
    n_new=st.integers(0, 20),
    removed_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_update_equals_a_fresh_build_of_the_same_vectors(
    n_old: int, n_new: int, removed_fraction: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    old = unit_vectors(rng, n_old, 8)
    new = unit_vectors(rng, n_new, 8)
    index = DenseIndex.build(np.arange(n_old), old, dimension=8)
    removed = rng.choice(n_old, size=int(n_old * removed_fraction), replace=False)
    new_ids = np.arange(n_old, n_old + n_new)

    updated = index.updated(remove_ids=removed, add_ids=new_ids, add_vectors=new)

    kept = np.setdiff1d(np.arange(n_old), removed)
    fresh = DenseIndex.build(
        np.concatenate([kept, new_ids]), np.concatenate([old[kept], new]), dimension=8
    )
    np.testing.assert_array_equal(updated.ids, fresh.ids)
    np.testing.assert_array_equal(updated.vectors, fresh.vectors)
    queries = unit_vectors(rng, 4, 8)
    np.testing.assert_array_equal(updated.search(queries, 5)[1], fresh.search(queries, 5)[1])
    assert len(index) == n_old  # the original is untouched


def test_ivf_updates_in_place_keep_its_lists_and_see_additions_and_removals() -> None:
    rng = np.random.default_rng(4)
    index = DenseIndex.build(
        np.arange(300), unit_vectors(rng, 300, 16), dimension=16, ann_threshold=100
    )
    new = unit_vectors(rng, 5, 16)

    updated = index.updated(
        remove_ids=np.zeros(0, dtype=np.int64),
        add_ids=np.arange(300, 305),
        add_vectors=new,
        ann_threshold=100,
    )

    assert updated.factory == index.factory and updated.factory.startswith("IVF")
    assert len(updated) == 305 and len(index) == 300
    _, found = updated.search(new, 1)
    assert found[:, 0].tolist() == list(range(300, 305))

    removed = updated.updated(
        remove_ids=np.arange(300, 303),
        add_ids=np.zeros(0, dtype=np.int64),
        add_vectors=np.zeros((0, 16), dtype=np.float32),
        ann_threshold=100,
    )
    assert removed.factory == index.factory and len(removed) == 302
    assert removed.index.ntotal == 302
    _, found = removed.search(new, 3)
    assert not set(found.ravel().tolist()) & {300, 301, 302}
    assert len(updated) == 305  # the original is untouched


def test_growing_past_the_threshold_switches_to_an_inverted_file() -> None:
    rng = np.random.default_rng(5)
    index = DenseIndex.build(np.arange(50), unit_vectors(rng, 50, 8), dimension=8, ann_threshold=60)

    grown = index.updated(
        remove_ids=np.zeros(0, dtype=np.int64),
        add_ids=np.arange(50, 70),
        add_vectors=unit_vectors(rng, 20, 8),
        ann_threshold=60,
    )

    assert (index.factory, grown.factory) == (FLAT_FACTORY, factory_for(70, 60))
    assert grown.factory.startswith("IVF")


@pytest.mark.parametrize("damaged", [INDEX_FILE, IDS_FILE])
def test_a_truncated_file_raises_index_store_error_naming_it(tmp_path: Path, damaged: str) -> None:
    rng = np.random.default_rng(6)
    DenseIndex.build(np.arange(20), unit_vectors(rng, 20, 8), dimension=8).save(tmp_path)
    path = tmp_path / damaged
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])

    with pytest.raises(IndexStoreError, match=damaged):
        DenseIndex.load(tmp_path, factory=FLAT_FACTORY)
