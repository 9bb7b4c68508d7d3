"""Dense (vector) index: FAISS inner product over L2-normalised float32 vectors.

The raw vectors and their chunk ids are kept beside the FAISS file, so any index type can be
rebuilt from them (and a document that did not change is never embedded again). Below
`ann_threshold` vectors the index is exact (`IDMap2,Flat`); above it, an inverted file with
exact distances (`IVF{nlist},Flat`, about 4 sqrt(n) lists, `IVF_NPROBE` of them searched).

IVF replaced HNSW because HNSW at its search depth lost most of the exact top 10 on a million
chunks that come in near-duplicate clusters, as real collections do (BENCHMARKS.md section 1
has both); an inverted file keeps a cluster's members in the same lists, builds faster and
deletes in place. Indexes written with HNSW still load and search.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np

from ragqa.errors import IndexStoreError

DEFAULT_ANN_THRESHOLD = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
IVF_NPROBE = 64  # lists searched per query
IVF_MIN_POINTS_PER_LIST = 39  # k-means wants this many training points per centroid
# k-means sample per list: faiss's cap of 256 trained 2.6x slower at 1M for the same recall
IVF_TRAINING_POINTS_PER_LIST = 64

FLAT_FACTORY = "IDMap2,Flat"
HNSW_FACTORY = f"IDMap2,HNSW{HNSW_M},Flat"  # written by earlier versions; still searched


def ivf_lists(n_vectors: int) -> int:
    """About 4 sqrt(n) lists, a power of two, with enough vectors to train each."""
    lists = 2 ** round(math.log2(max(1.0, 4 * math.sqrt(n_vectors))))
    while lists > 1 and lists * IVF_MIN_POINTS_PER_LIST > n_vectors:
        lists //= 2
    return lists


def _is_ivf(factory: str) -> bool:
    return factory.startswith("IVF")


INDEX_FILE = "index.faiss"
VECTORS_FILE = "vectors.npy"
IDS_FILE = "ids.npy"

# Few queries gain nothing from OpenMP threads and would compete with the generator for cores.
_SMALL_QUERY_BATCH = 16


def _build_threads() -> int:
    return max(1, os.cpu_count() or 1)


def factory_for(n_vectors: int, ann_threshold: int) -> str:
    """Exact search while it is cheap; an inverted file once the collection outgrows it."""
    return f"IVF{ivf_lists(n_vectors)},Flat" if n_vectors > ann_threshold else FLAT_FACTORY


def _new_index(dimension: int, factory: str) -> faiss.Index:
    index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    if factory == HNSW_FACTORY:
        # faiss's type stubs know neither IndexIDMap2.index nor IndexHNSW.hnsw.
        hnsw = faiss.downcast_index(index.index).hnsw  # type: ignore[attr-defined]
        hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    return index


def _training_sample(matrix: np.ndarray, index: faiss.Index) -> np.ndarray:
    """A seeded sample for k-means: the same vectors give the same index."""
    lists = faiss.extract_index_ivf(index).nlist
    size = min(len(matrix), lists * IVF_TRAINING_POINTS_PER_LIST)
    if size == len(matrix):
        return matrix
    rows = np.random.default_rng(0).choice(len(matrix), size, replace=False)
    return matrix[np.sort(rows)]


def _as_matrix(vectors: np.ndarray, dimension: int) -> np.ndarray:
    matrix = np.ascontiguousarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dimension:
        raise ValueError(f"expected vectors of shape (n, {dimension}), got {matrix.shape}")
    return matrix


@dataclass(frozen=True)
class DenseIndex:
    """A FAISS index plus the vectors and ids it was built from (ids sorted ascending)."""

    ids: np.ndarray  # int64, shape (n,)
    vectors: np.ndarray  # float32, shape (n, dimension)
    factory: str
    index: faiss.Index

    @property
    def dimension(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(
        cls,
        ids: np.ndarray,
        vectors: np.ndarray,
        *,
        dimension: int,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> DenseIndex:
        """Index `vectors` (rows already L2-normalised) under the integer chunk `ids`."""
        matrix = _as_matrix(vectors, dimension)
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        if id_array.shape != (matrix.shape[0],):
            raise ValueError(f"{id_array.shape[0]} ids for {matrix.shape[0]} vectors")
        if np.unique(id_array).shape[0] != id_array.shape[0]:
            raise ValueError("chunk ids must be unique")
        order = np.argsort(id_array, kind="stable")
        id_array, matrix = id_array[order], matrix[order]
        factory = factory_for(len(id_array), ann_threshold)
        index = _new_index(dimension, factory)
        if len(id_array):
            faiss.omp_set_num_threads(_build_threads())
            if not index.is_trained:
                index.train(_training_sample(matrix, index))
            index.add_with_ids(matrix, id_array)
        return cls(ids=id_array, vectors=matrix, factory=factory, index=index)

    def updated(
        self,
        *,
        remove_ids: np.ndarray,
        add_ids: np.ndarray,
        add_vectors: np.ndarray,
        ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    ) -> DenseIndex:
        """A new index without `remove_ids` and with the added vectors; `self` is untouched.

        HNSW cannot delete, so a removal rebuilds it from the kept raw vectors; pure additions to
        an index that stays HNSW go into a copy of the graph, sparing a full rebuild per upload.
        """
        keep = ~np.isin(self.ids, np.asarray(remove_ids, dtype=np.int64))
        added = _as_matrix(add_vectors, self.dimension)
        new_ids = np.asarray(add_ids, dtype=np.int64)
        ids = np.concatenate([self.ids[keep], new_ids])
        vectors = np.concatenate([self.vectors[keep], added])
        factory = factory_for(len(ids), ann_threshold)
        in_place = factory == self.factory and (
            _is_ivf(factory) or (factory == HNSW_FACTORY and keep.all())
        )
        if not in_place:
            return DenseIndex.build(
                ids, vectors, dimension=self.dimension, ann_threshold=ann_threshold
            )
        if np.unique(ids).shape[0] != ids.shape[0]:
            raise ValueError("chunk ids must be unique")
        index = faiss.clone_index(self.index)
        faiss.omp_set_num_threads(_build_threads())
        if not keep.all():
            index.remove_ids(faiss.IDSelectorBatch(self.ids[~keep]))
        index.add_with_ids(added, new_ids)
        order = np.argsort(ids, kind="stable")
        return DenseIndex(ids=ids[order], vectors=vectors[order], factory=factory, index=index)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k inner products per query row: (scores float32, ids int64), both (nq, <=k).

        k is capped at the number of vectors, so no row carries FAISS's -1 padding.
        """
        matrix = _as_matrix(queries, self.dimension)
        k = min(k, len(self))
        if k <= 0:
            empty = np.zeros((matrix.shape[0], 0))
            return empty.astype(np.float32), empty.astype(np.int64)
        faiss.omp_set_num_threads(1 if matrix.shape[0] < _SMALL_QUERY_BATCH else _build_threads())
        params: faiss.SearchParameters | None = None
        if self.factory == HNSW_FACTORY:
            params = faiss.SearchParametersHNSW(  # type: ignore[attr-defined]  # not in the stubs
                efSearch=max(HNSW_EF_SEARCH, 2 * k)
            )
        elif _is_ivf(self.factory):
            params = faiss.SearchParametersIVF(nprobe=IVF_NPROBE)  # type: ignore[call-arg]
        scores, ids = self.index.search(matrix, k, params=params)
        return scores, ids

    def save(self, directory: Path) -> list[Path]:
        """Write the index, vectors and ids into `directory`; returns the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        faiss.write_index(self.index, str(directory / INDEX_FILE))
        np.save(directory / VECTORS_FILE, self.vectors, allow_pickle=False)
        np.save(directory / IDS_FILE, self.ids, allow_pickle=False)
        return [directory / INDEX_FILE, directory / VECTORS_FILE, directory / IDS_FILE]

    @classmethod
    def load(cls, directory: Path, *, factory: str) -> DenseIndex:
        """Read what `save` wrote and check the parts agree; IndexStoreError names the bad file."""
        ids = _load_array(directory / IDS_FILE)
        vectors = _load_array(directory / VECTORS_FILE)
        index_path = directory / INDEX_FILE
        try:
            index = faiss.read_index(str(index_path))
        except RuntimeError as exc:
            raise IndexStoreError(f"{index_path}: not a readable FAISS index ({exc})") from exc
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise IndexStoreError(f"{directory / IDS_FILE}: expected a 1-d int64 array")
        if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape[0] != ids.shape[0]:
            raise IndexStoreError(
                f"{directory / VECTORS_FILE}: expected float32 of shape ({ids.shape[0]}, d), "
                f"got {vectors.dtype} {vectors.shape}"
            )
        if index.ntotal != ids.shape[0] or index.d != vectors.shape[1]:
            raise IndexStoreError(
                f"{index_path}: holds {index.ntotal} vectors of dimension {index.d}, "
                f"but {directory / VECTORS_FILE} holds {vectors.shape[0]} of {vectors.shape[1]}"
            )
        return cls(ids=ids, vectors=vectors, factory=factory, index=index)


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise IndexStoreError(f"{path}: not a readable array file ({exc})") from exc
