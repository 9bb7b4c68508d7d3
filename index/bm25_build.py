"""BM25 built into bm25s's own score matrix from token lists streamed one chunk at a time.

`bm25s.BM25.index` wants every chunk's tokens, and then their ids, as Python lists at once: at a
million chunks those lists take many times the memory of the index they make. This builds the
same CSC matrix of Lucene BM25 scores with numpy arrays only, so the tokens can come from a
cursor. It keeps six bytes per distinct token of a chunk while reading (token id and count),
then scatters block by block into the matrix's own two arrays, so no global sort or second
copy of the whole corpus is ever held.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import bm25s
import numpy as np

_BLOCK = 8192  # chunks whose counts are gathered into one block of arrays
_MAX_TF = np.iinfo(np.uint16).max  # counts are stored in 16 bits; BM25 saturates long before


class _Blocks:
    """What was read, per block of chunks: token ids, their counts, and tokens per chunk."""

    def __init__(self) -> None:
        self.blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.df = np.zeros(0, dtype=np.int64)
        self._columns: list[np.ndarray] = []
        self._counts: list[np.ndarray] = []
        self._per_chunk: list[int] = []

    def add(self, unique: np.ndarray, tf: np.ndarray) -> None:
        self._columns.append(unique)
        self._counts.append(np.minimum(tf, _MAX_TF).astype(np.uint16))
        self._per_chunk.append(len(unique))
        if len(self._per_chunk) >= _BLOCK:
            self.flush()

    def flush(self) -> None:
        if not self._per_chunk:
            return
        columns = np.concatenate(self._columns) if self._columns else np.zeros(0, np.int32)
        counts = np.concatenate(self._counts) if self._counts else np.zeros(0, np.uint16)
        self.blocks.append((columns, counts, np.asarray(self._per_chunk, dtype=np.int32)))
        block_df = np.bincount(columns, minlength=len(self.df))
        if len(block_df) > len(self.df):
            self.df = np.concatenate([self.df, np.zeros(len(block_df) - len(self.df), np.int64)])
        self.df += block_df
        self._columns, self._counts, self._per_chunk = [], [], []


def build_bm25(
    token_lists: Iterable[Sequence[str]], *, k1: float, b: float
) -> tuple[bm25s.BM25 | None, int]:
    """A "lucene" bm25s.BM25 over the chunks in `token_lists` (row i is the i-th), and how many
    chunks there were; the retriever is None when no chunk has a token."""
    vocab: dict[str, int] = {}
    lengths: list[int] = []
    read = _Blocks()
    for tokens in token_lists:
        lengths.append(len(tokens))
        ids = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in tokens), np.int32, count=len(tokens)
        )
        unique, tf = np.unique(ids, return_counts=True)
        read.add(unique, tf)
    read.flush()
    n_docs = len(lengths)
    if not vocab:
        return None, n_docs
    n_vocab = len(vocab)
    df = np.zeros(n_vocab, dtype=np.int64)
    df[: len(read.df)] = read.df
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    doc_lengths = np.asarray(lengths, dtype=np.float64)
    norm = k1 * ((1 - b) + b * doc_lengths / doc_lengths.mean())  # per chunk, as bm25s: double
    del lengths, doc_lengths
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    data = np.empty(int(indptr[-1]), dtype=np.float32)
    indices = np.empty(int(indptr[-1]), dtype=np.int32)
    cursor = indptr[:-1].copy()  # where each token's next chunk goes
    first_row = 0
    while read.blocks:
        columns, counts, per_chunk = read.blocks.pop(0)
        rows = np.repeat(
            np.arange(first_row, first_row + len(per_chunk), dtype=np.int32), per_chunk
        )
        first_row += len(per_chunk)
        tf = counts.astype(np.float64)
        scores = (idf[columns] * (tf / (norm[rows] + tf))).astype(np.float32)
        order = np.argsort(columns, kind="stable")  # by token, chunks in order within each
        by_token = columns[order]
        token_ids, starts, how_many = np.unique(by_token, return_index=True, return_counts=True)
        rank = np.arange(len(by_token)) - np.repeat(starts, how_many)
        positions = cursor[by_token] + rank
        data[positions] = scores[order]
        indices[positions] = rows[order]
        cursor[token_ids] += how_many
    matrix = {
        "data": data,
        "indices": indices,
        "indptr": indptr.astype(np.int32) if indptr[-1] < 2**31 else indptr,
        "num_docs": n_docs,
    }
    retriever = bm25s.BM25(method="lucene", k1=k1, b=b, backend="numpy")
    retriever.scores = matrix
    retriever.nonoccurrence_array = None  # what `index` leaves for the lucene method
    vocab[""] = n_vocab  # bm25s adds the empty token after its matrix's columns, as here
    retriever.vocab_dict = vocab
    retriever.unique_token_ids_set = set(vocab.values())
    return retriever, n_docs
