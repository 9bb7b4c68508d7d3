"""Lexical index: BM25 (bm25s) over `textnorm.index_tokens`, keyed by integer chunk ids.

A chunk's tokens are its words and the pinyin n-grams of its Chinese text. The tokenizer folds
traditional to simplified Chinese, full width to ASCII and case before segmenting, so a question
matches text in either script and any case. The index is rebuilt from stored tokens on every
update (BM25's IDF depends on the whole corpus), never re-tokenised.

In a large collection a question's commonest tokens cost most of a search (every chunk holding
one is scored) and add least to it, so from PRUNE_FROM_CHUNKS chunks they are left out of the
query (README, How it works). A small collection's common words are its topic: kept.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from index.bm25_build import build_bm25
from index.manifest import LexicalInfo
from index.textnorm import tokenize
from ragqa.errors import IndexStoreError

BM25_METHOD = "lucene"
BM25_K1 = 1.5
BM25_B = 0.75
TOKENIZER_DESCRIPTION = (
    "index.textnorm.index_tokens: NFKC, OpenCC t2s, lower case, jieba search mode; "
    "pypinyin 2- and 3-grams"
)

# From this many chunks BM25 runs compiled (bm25s's numba back end): compiling costs seconds once
# per process (done in the background on load), and each search over the corpus saves more.
NUMBA_FROM_CHUNKS = 100_000

# From this many chunks, query tokens found in more than COMMON_SHARE of them are dropped (when
# the query keeps another): their Lucene IDF is under ln 2, so one adds at most (k1 + 1) ln 2 to
# a score, yet each means scoring over half the collection. bench.bm25_prune measures the trade.
PRUNE_FROM_CHUNKS = 100_000
COMMON_SHARE = 0.5

IDS_FILE = "ids.npy"
_BM25_PARAMS_FILE = "params.index.json"  # written by bm25s; absent when no chunk has a word


def _backend(n_chunks: int) -> str:
    return "numba" if n_chunks >= NUMBA_FROM_CHUNKS else "numpy"


_compiled = threading.Lock()
_compiling: list[threading.Thread] = []


def _compile_numba() -> None:
    """Compile bm25s's numba functions once per process, off the request path."""
    with _compiled:
        if _compiling:
            return
        tiny = bm25s.BM25(method=BM25_METHOD, k1=BM25_K1, b=BM25_B, backend="numba")
        tiny.index([["a", "b"], ["b", "c"]], show_progress=False)
        thread = threading.Thread(
            target=tiny.retrieve,
            args=([["b"]],),
            kwargs={"k": 1, "show_progress": False, "n_threads": 0, "backend_selection": "numba"},
            name="bm25-numba-compile",
            daemon=True,
        )
        thread.start()
        _compiling.append(thread)


def lexical_settings() -> LexicalInfo:
    """How this module tokenises and scores, as recorded in (and checked against) the manifest."""
    return LexicalInfo(
        tokenizer=TOKENIZER_DESCRIPTION, t2s=True, bm25_method=BM25_METHOD, k1=BM25_K1, b=BM25_B
    )


@dataclass(frozen=True)
class LexicalIndex:
    """BM25 over chunk tokens; `retriever` is None when the corpus holds no words at all."""

    ids: np.ndarray  # int64 chunk ids, row i of the BM25 matrix is ids[i]
    retriever: bm25s.BM25 | None

    def __len__(self) -> int:
        return int(self.ids.shape[0])

    @classmethod
    def build(cls, ids: np.ndarray, token_lists: Iterable[Sequence[str]]) -> LexicalIndex:
        """Index pre-tokenised chunks (`textnorm.index_tokens` output), one list per id, in
        order; the lists may be streamed (`index.bm25_build`), so they need not fit in memory."""
        id_array = np.ascontiguousarray(ids, dtype=np.int64)
        retriever, n_chunks = build_bm25(token_lists, k1=BM25_K1, b=BM25_B)
        if id_array.shape != (n_chunks,):
            raise ValueError(f"{id_array.shape[0]} ids for {n_chunks} token lists")
        if retriever is None:
            return cls(ids=id_array, retriever=None)
        retriever.backend = _backend(n_chunks)
        if retriever.backend == "numba":
            _compile_numba()
        return cls(ids=id_array, retriever=retriever)

    def search(self, query_text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Chunks sharing at least one word with the query, best first: (scores, ids), <= k each."""
        return self.search_tokens(tokenize(query_text), k)

    def search_tokens(
        self, tokens: Sequence[str], k: int, *, exact: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """As `search`, for an already tokenised query; `exact` keeps even the common tokens a
        large collection leaves out (`query_tokens`)."""
        k = min(k, len(self))
        if self.retriever is None or not tokens or k <= 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        rows, scores = self.retriever.retrieve(
            [list(tokens) if exact else self.query_tokens(tokens)],
            k=k,
            show_progress=False,
            n_threads=0,
            backend_selection=self.retriever.backend,
        )
        matched = scores[0] > 0
        return scores[0][matched].astype(np.float32), self.ids[rows[0][matched]]

    def query_tokens(self, tokens: Sequence[str]) -> list[str]:
        """The tokens a search scores: from PRUNE_FROM_CHUNKS chunks, those found in more than
        COMMON_SHARE of them are left out, unless nothing else of the query is in the index."""
        n_chunks = len(self)
        if self.retriever is None or n_chunks < PRUNE_FROM_CHUNKS:
            return list(tokens)
        vocab = self.retriever.vocab_dict
        indptr = self.retriever.scores["indptr"]
        limit = COMMON_SHARE * n_chunks
        kept = [
            t for t in tokens if t in vocab and indptr[vocab[t] + 1] - indptr[vocab[t]] <= limit
        ]
        return kept or list(tokens)

    def save(self, directory: Path) -> list[Path]:
        """Write the BM25 arrays and the id map into `directory`; returns the files written."""
        directory.mkdir(parents=True, exist_ok=True)
        np.save(directory / IDS_FILE, self.ids, allow_pickle=False)
        if self.retriever is not None:
            self.retriever.save(str(directory), show_progress=False)
        return sorted(path for path in directory.iterdir() if path.is_file())

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        """Read what `save` wrote; IndexStoreError names the folder and the problem."""
        ids_path = directory / IDS_FILE
        try:
            ids = np.load(ids_path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise IndexStoreError(f"{ids_path}: not a readable array file ({exc})") from exc
        if ids.dtype != np.int64 or ids.ndim != 1:
            raise IndexStoreError(f"{ids_path}: expected a 1-d int64 array")
        if not (directory / _BM25_PARAMS_FILE).exists():
            return cls(ids=ids, retriever=None)
        try:
            backend = _backend(int(ids.shape[0]))
            retriever = bm25s.BM25.load(
                str(directory), show_progress=False, override_params={"backend": backend}
            )
        except (OSError, ValueError, KeyError, TypeError, EOFError) as exc:
            raise IndexStoreError(f"{directory}: not a readable BM25 index ({exc})") from exc
        if retriever.scores["num_docs"] != ids.shape[0]:
            raise IndexStoreError(
                f"{directory}: BM25 index holds {retriever.scores['num_docs']} chunks "
                f"but {ids_path} names {ids.shape[0]}"
            )
        if retriever.backend == "numba":
            _compile_numba()
        return cls(ids=ids, retriever=retriever)
