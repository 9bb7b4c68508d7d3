"""The streamed BM25 build gives the scores bm25s's own `index` gives, and loads the same way."""

from __future__ import annotations

from pathlib import Path

import bm25s
import numpy as np
import pytest

from index.bm25_build import build_bm25
from index.lexical import BM25_B, BM25_K1, LexicalIndex


def _corpus(seed: int, n_docs: int) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)] + ["核医学", "显像", "pet", "psma", "yixue"]
    weights = 1.0 / np.arange(1, len(words) + 1)  # Zipf-like: common and rare words
    weights /= weights.sum()
    corpus = []
    for _ in range(n_docs):
        length = int(rng.integers(0, 60))  # some chunks have no token at all
        corpus.append([words[i] for i in rng.choice(len(words), size=length, p=weights)])
    return corpus


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_equal_bm25s_index(seed: int) -> None:
    corpus = _corpus(seed, 400)
    reference = bm25s.BM25(method="lucene", k1=BM25_K1, b=BM25_B)
    reference.index(corpus, show_progress=False)
    built, n_docs = build_bm25(iter(corpus), k1=BM25_K1, b=BM25_B)
    assert built is not None and n_docs == 400
    assert built.scores["num_docs"] == reference.scores["num_docs"]
    assert len(built.scores["data"]) == len(reference.scores["data"])
    assert set(built.vocab_dict) == set(reference.vocab_dict)
    rng = np.random.default_rng(seed + 10)
    vocabulary = sorted(t for t in reference.vocab_dict if t)
    for _ in range(30):
        query = [vocabulary[i] for i in rng.choice(len(vocabulary), size=3)]
        want = reference.get_scores(query)
        got = built.get_scores(query)
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
        assert want.any()  # the queries match something, so equality says something


@pytest.mark.parametrize("block", [1, 7, 64])
def test_blocks_scatter_into_bm25s_own_matrix(block: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read in many small blocks (a million chunks make about 120), the matrix is bm25s's
    own: every token's chunks in order, with the same scores."""
    monkeypatch.setattr("index.bm25_build._BLOCK", block)
    corpus = _corpus(4, 300)
    reference = bm25s.BM25(method="lucene", k1=BM25_K1, b=BM25_B)
    reference.index(corpus, show_progress=False)
    built, _ = build_bm25(iter(corpus), k1=BM25_K1, b=BM25_B)
    assert built is not None
    # Token ids are numbered in a different order, so compare each token's column.
    for token, column in reference.vocab_dict.items():
        if not token:
            continue
        mine = built.vocab_dict[token]
        want = slice(*reference.scores["indptr"][column : column + 2])
        got = slice(*built.scores["indptr"][mine : mine + 2])
        np.testing.assert_array_equal(
            built.scores["indices"][got], reference.scores["indices"][want]
        )
        np.testing.assert_allclose(
            built.scores["data"][got], reference.scores["data"][want], rtol=1e-6
        )


def test_an_index_built_from_a_stream_saves_loads_and_searches(tmp_path: Path) -> None:
    corpus = _corpus(3, 200)
    ids = np.arange(1000, 1200, dtype=np.int64)
    streamed = LexicalIndex.build(ids, (tokens for tokens in corpus))
    listed = LexicalIndex.build(ids, corpus)
    streamed.save(tmp_path / "lexical")
    loaded = LexicalIndex.load(tmp_path / "lexical")
    for query in (["w1", "psma"], ["显像"], ["w250", "w3", "yixue"]):
        scores, found = loaded.search_tokens(query, 10)
        want_scores, want_ids = listed.search_tokens(query, 10)
        np.testing.assert_allclose(scores, want_scores, rtol=1e-6)
        assert set(found.tolist()) <= set(ids.tolist())
        assert len(found) == len(want_ids) > 0


def test_no_tokens_anywhere_gives_no_retriever() -> None:
    assert build_bm25(iter([[], []]), k1=BM25_K1, b=BM25_B) == (None, 2)
    index = LexicalIndex.build(np.arange(2, dtype=np.int64), iter([[], []]))
    assert index.retriever is None and len(index) == 2


def test_ids_that_do_not_match_the_chunks_are_refused() -> None:
    with pytest.raises(ValueError, match="3 ids for 2 token lists"):
        LexicalIndex.build(np.arange(3, dtype=np.int64), iter([["a"], ["b"]]))
