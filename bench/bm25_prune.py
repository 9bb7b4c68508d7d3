"""What leaving a question's most common tokens out saves BM25 at scale, and what it changes:
`python -m bench.bm25_prune N`.

Builds BM25 over N synthetic chunks (as bench.bm25_memory), then searches the eval questions'
tokens with the product's compiled back end: exactly (every token), without the tokens found in
more than a share of the chunks, and as the product searches (`LexicalIndex.query_tokens`). It
prints the p50 of each and, for the top 10 and top 60 (what hybrid search fetches from each
side), the share of the exact list's ids it keeps and the share of its own list that an exact
search could have returned (exact score at least the exact list's last: the bench's chunks come
in clusters of near-copies, so many tie and ids alone understate agreement).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from bench.bm25_memory import synthetic_chunks
from bench.components import eval_questions
from bench.synthetic import chunk_tokens
from index.lexical import LexicalIndex
from index.textnorm import tokenize

SHARES = (1.0, 0.5, 0.2, 0.1)
TOPS = (10, 60)


def _kept(found: list[np.ndarray], exact: list[np.ndarray]) -> str:
    """Mean share of each exact top list that the other search's list of the same depth holds
    as well: ids are compared, so where chunks tie it counts a different pick as a miss."""
    parts = []
    for top in TOPS:
        shares = [
            len(set(f[:top].tolist()) & set(e[:top].tolist())) / len(e[:top])
            for f, e in zip(found, exact, strict=True)
            if len(e)
        ]
        parts.append(f"top {top} {statistics.mean(shares):.3f}")
    return ", ".join(parts)


def _exact_scores(index: LexicalIndex, query: list[str]) -> np.ndarray:
    """Every chunk's exact BM25 score for the query: the sum of its tokens' precomputed columns."""
    assert index.retriever is not None
    scores = index.retriever.scores
    columns = [index.retriever.vocab_dict[t] for t in query if t in index.retriever.vocab_dict]
    spans = [np.arange(scores["indptr"][c], scores["indptr"][c + 1]) for c in columns]
    where = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
    return np.bincount(
        scores["indices"][where], weights=scores["data"][where], minlength=len(index)
    )


def _deserved(
    index: LexicalIndex, queries: list[list[str]], found: list[np.ndarray], exact: list[np.ndarray]
) -> str:
    """Mean share of each returned top list whose exact score reaches the exact list's last:
    the chunks an exact search could have returned, whichever of tied chunks it picks."""
    shares: dict[int, list[float]] = {top: [] for top in TOPS}
    for query, f, e in zip(queries, found, exact, strict=True):
        if not len(e) or not len(f):
            continue
        every = _exact_scores(index, query)  # once per query, for every depth
        for top in TOPS:
            bar = every[e[:top]].min() * (1 - 1e-5)
            shares[top].append(float(np.mean(every[f[:top]] >= bar)))
    return ", ".join(f"top {top} {statistics.mean(shares[top]):.3f}" for top in TOPS)


def _agreement(
    index: LexicalIndex, queries: list[list[str]], found: list[np.ndarray], exact: list[np.ndarray]
) -> str:
    return (
        f"keeps {_kept(found, exact)}; "
        f"deserved (ties counted) {_deserved(index, queries, found, exact)}"
    )


def _timed(
    search: Callable[[list[str]], np.ndarray], queries: list[list[str]]
) -> tuple[float, list[np.ndarray]]:
    times: list[float] = []
    found: list[np.ndarray] = []
    for query in queries:
        started = time.perf_counter()
        found.append(search(query))
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), found


def main(n_chunks: int) -> str:
    pool, specs = synthetic_chunks(n_chunks)
    tokens = (chunk_tokens(pool, spec) for spec in specs)
    index = LexicalIndex.build(np.arange(n_chunks, dtype=np.int64), tokens)
    del specs
    assert index.retriever is not None
    vocab = index.retriever.vocab_dict
    indptr = index.retriever.scores["indptr"]
    queries = [tokenize(q) for q in eval_questions()]
    depth = max(TOPS)
    for query in queries[:5]:  # compile and warm
        index.search_tokens(query, depth, exact=True)
    time.sleep(8)  # the background numba compile
    lines = [f"{n_chunks:,} chunks, {len(queries)} eval questions, share of the exact top kept:"]
    exact: list[np.ndarray] = []
    for share in SHARES:

        def pruned(query: list[str], share: float = share) -> np.ndarray:
            rare = [
                t
                for t in query
                if t in vocab and indptr[vocab[t] + 1] - indptr[vocab[t]] <= share * n_chunks
            ]
            return index.search_tokens(rare, depth, exact=True)[1]

        p50, found = _timed(pruned, queries)
        exact = exact or found
        kept = "" if share == 1.0 else f", {_agreement(index, queries, found, exact)}"
        lines.append(f"  tokens in <= {share:.0%} of chunks: p50 {p50:.2f} ms{kept}")
    p50, found = _timed(lambda query: index.search_tokens(query, depth)[1], queries)
    lines.append(
        f"  as the product searches: p50 {p50:.2f} ms, {_agreement(index, queries, found, exact)}"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
