"""bench.evidence's helpers: the remembering embedder and the table row."""

from __future__ import annotations

import numpy as np

from bench.evidence import MemoEmbedder, facts_row
from tests.conftest import FakeEmbedder


def test_each_text_is_embedded_once_and_gets_the_inner_embedders_vector() -> None:
    inner = FakeEmbedder()
    memo = MemoEmbedder(inner)
    first = memo.embed_documents(["a b", "c d", "a b"])
    again = memo.embed_documents(["c d", "e f"])
    assert inner.embedded == ["a b", "c d", "e f"]
    np.testing.assert_array_equal(first[0], FakeEmbedder().embed_documents(["a b"])[0])
    np.testing.assert_array_equal(again[0], first[1])
    assert memo.embed_queries(["q"]).shape == (1, inner.dimension)


def test_the_row_gives_the_share_by_language_and_the_median_characters() -> None:
    row = facts_row("x", [("en", True, 10), ("en", False, 30), ("zh-Hans", True, 20)])
    assert row == "| x | 0.667 | 0.500 / 1.000 | 20 |"
