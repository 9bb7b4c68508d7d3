"""What pruning a question's most common tokens would save BM25 at scale, before building it in:
`python -m bench.bm25_prune N`.

Builds BM25 over N synthetic chunks (as bench.bm25_memory), then searches the eval questions'
tokens with the product's compiled back end, first whole, then without the tokens found in more
than a share of the chunks, and prints the p50 of each with how much of the whole top 10 the
pruned search keeps. An experiment for issue 18's BM25 target, not a product setting.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

from bench.bm25_memory import synthetic_chunks
from bench.components import eval_questions
from bench.synthetic import chunk_tokens
from index.lexical import LexicalIndex
from index.textnorm import tokenize

SHARES = (1.0, 0.5, 0.2, 0.1)
TOP = 10


def main(n_chunks: int) -> str:
    pool, specs = synthetic_chunks(n_chunks)
    tokens = (chunk_tokens(pool, spec) for spec in specs)
    index = LexicalIndex.build(np.arange(n_chunks, dtype=np.int64), tokens)
    del specs
    assert index.retriever is not None
    vocab = index.retriever.vocab_dict
    indptr = index.retriever.scores["indptr"]
    queries = [tokenize(q) for q in eval_questions()]
    for query in queries[:5]:  # compile and warm
        index.search_tokens(query, TOP)
    time.sleep(8)  # the background numba compile
    lines = [f"{n_chunks:,} chunks, {len(queries)} eval questions, top {TOP}:"]
    whole: list[set[int]] = []
    for share in SHARES:
        times: list[float] = []
        kept: list[float] = []
        for n, query in enumerate(queries):
            pruned = [
                t
                for t in query
                if t in vocab and indptr[vocab[t] + 1] - indptr[vocab[t]] <= share * n_chunks
            ]
            started = time.perf_counter()
            _, ids = index.search_tokens(pruned, TOP)
            times.append((time.perf_counter() - started) * 1000)
            found = set(ids.tolist())
            if share == 1.0:
                whole.append(found)
            elif whole[n]:
                kept.append(len(found & whole[n]) / len(whole[n]))
        overlap = f", keeps {statistics.mean(kept):.3f} of the whole top {TOP}" if kept else ""
        lines.append(
            f"  tokens in <= {share:.0%} of chunks: p50 {statistics.median(times):.2f} ms{overlap}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
