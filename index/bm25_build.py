"""BM25 built into bm25s's own score matrix from token lists streamed one chunk at a time.

`bm25s.BM25.index` wants every chunk's tokens, and then their ids, as Python lists at once: at a
million chunks those lists take many times the memory of the index they make. This builds the
same CSC matrix of Lucene BM25 scores with numpy arrays only, so a build needs about the index's
own size (three numbers per distinct token of a chunk), and the tokens can come from a cursor.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import bm25s
import numpy as np

_BLOCK = 8192  # chunks whose counts are gathered before they are joined into one array
_SLICE = 1 << 24  # scores computed this many at a time (bounded float64 temporaries)


def build_bm25(
    token_lists: Iterable[Sequence[str]], *, k1: float, b: float
) -> tuple[bm25s.BM25 | None, int]:
    """A "lucene" bm25s.BM25 over the chunks in `token_lists` (row i is the i-th), and how many
    chunks there were; the retriever is None when no chunk has a token."""
    vocab: dict[str, int] = {}
    lengths: list[int] = []
    rows: list[np.ndarray] = []
    columns: list[np.ndarray] = []
    counts: list[np.ndarray] = []
    blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def flush() -> None:
        if rows:
            blocks.append((np.concatenate(rows), np.concatenate(columns), np.concatenate(counts)))
            for gathered in (rows, columns, counts):
                gathered.clear()

    for row, tokens in enumerate(token_lists):
        lengths.append(len(tokens))
        if tokens:
            ids = np.fromiter(
                (vocab.setdefault(t, len(vocab)) for t in tokens), np.int32, count=len(tokens)
            )
            unique, tf = np.unique(ids, return_counts=True)
            rows.append(np.full(unique.shape, row, dtype=np.int32))
            columns.append(unique)
            counts.append(tf.astype(np.float32))
        if len(rows) >= _BLOCK:
            flush()
    flush()
    n_docs = len(lengths)
    if not vocab:
        return None, n_docs
    doc_index = np.concatenate([block[0] for block in blocks])
    token_index = np.concatenate([block[1] for block in blocks])
    tf_all = np.concatenate([block[2] for block in blocks])
    blocks.clear()

    n_vocab = len(vocab)
    doc_lengths = np.asarray(lengths, dtype=np.float64)
    df = np.bincount(token_index, minlength=n_vocab)
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    norm = k1 * ((1 - b) + b * doc_lengths / doc_lengths.mean())  # per chunk, as bm25s: double
    scores = np.empty(tf_all.shape, dtype=np.float32)
    for begin in range(0, len(scores), _SLICE):
        part = slice(begin, begin + _SLICE)
        tf = tf_all[part].astype(np.float64)
        scores[part] = idf[token_index[part]] * (tf / (norm[doc_index[part]] + tf))
    del tf_all
    order = np.argsort(token_index, kind="stable")  # by token, chunks in order within each
    indptr = np.zeros(n_vocab + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    matrix = {
        "data": scores[order],
        "indices": doc_index[order],
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
