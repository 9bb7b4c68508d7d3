"""Lexical index: BM25 over folded words, so script and case do not matter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.lexical import LexicalIndex
from index.textnorm import tokenize
from ragqa.errors import IndexStoreError

TEXTS = {
    10: "臺灣高速鐵路公司宣布增加班次，新的時刻表將於下個月實施。",
    11: "山西医科大学第一医院开设了新的心脏病中心。",
    12: "The Solar Farm in Nevada began producing electricity this week.",
    13: "Engineers expect the plant to power forty thousand homes.",
}


def build(texts: dict[int, str]) -> LexicalIndex:
    return LexicalIndex.build(np.array(list(texts)), [tokenize(t) for t in texts.values()])


@pytest.fixture(scope="module")
def lexical() -> LexicalIndex:
    return build(TEXTS)


@pytest.mark.parametrize(
    ("query", "expected_id"),
    [
        ("台湾高速铁路的时刻表", 10),  # simplified query, traditional text
        ("山西醫科大學的心臟病中心", 11),  # traditional query, simplified text
        ("SOLAR farm NEVADA", 12),  # English in any case
        ("ｓｏｌａｒ", 12),  # full-width letters
    ],
)
def test_query_finds_text_whatever_the_script_or_case(
    lexical: LexicalIndex, query: str, expected_id: int
) -> None:
    scores, ids = lexical.search(query, 3)

    assert ids[0] == expected_id
    assert (np.diff(scores) <= 0).all() and (scores > 0).all()


def test_only_chunks_sharing_a_word_are_returned(lexical: LexicalIndex) -> None:
    _, ids = lexical.search("electricity", 10)

    assert ids.tolist() == [12]


@pytest.mark.parametrize("query", ["", "   ", "？！。", "zyxwvut"])
def test_a_query_without_known_words_finds_nothing(lexical: LexicalIndex, query: str) -> None:
    scores, ids = lexical.search(query, 5)

    assert len(scores) == len(ids) == 0


def test_k_is_capped_at_the_corpus_size(lexical: LexicalIndex) -> None:
    _, ids = lexical.search("the", 100)

    assert 0 < len(ids) <= len(TEXTS)


def test_an_empty_corpus_finds_nothing_and_round_trips(tmp_path: Path) -> None:
    empty = build({})
    empty.save(tmp_path)

    loaded = LexicalIndex.load(tmp_path)

    assert len(loaded) == 0
    assert len(loaded.search("anything", 5)[1]) == 0


def test_a_corpus_of_wordless_chunks_finds_nothing(tmp_path: Path) -> None:
    index = build({1: "。。。", 2: "!!"})
    index.save(tmp_path)

    assert len(LexicalIndex.load(tmp_path).search("word", 5)[1]) == 0


def test_save_then_load_gives_the_same_scores(lexical: LexicalIndex, tmp_path: Path) -> None:
    lexical.save(tmp_path)
    loaded = LexicalIndex.load(tmp_path)

    for query in ("高速铁路", "solar plant homes", "心臟病"):
        for original, reloaded in zip(
            lexical.search(query, 4), loaded.search(query, 4), strict=True
        ):
            np.testing.assert_array_equal(original, reloaded)


def test_a_damaged_folder_raises_index_store_error(lexical: LexicalIndex, tmp_path: Path) -> None:
    lexical.save(tmp_path)
    (tmp_path / "vocab.index.json").write_text('{"trunc', encoding="utf-8")

    with pytest.raises(IndexStoreError, match=str(tmp_path)):
        LexicalIndex.load(tmp_path)


def test_the_compiled_back_end_of_large_collections_ranks_as_numpy_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Past NUMBA_FROM_CHUNKS, BM25 runs numba-compiled: same ids and scores, also reloaded."""
    import index.lexical as lexical_module

    rng = np.random.default_rng(8)
    words = [f"w{i}" for i in range(300)]
    texts = {i: " ".join(rng.choice(words, 20)) for i in range(400)}
    reference = build(texts)
    monkeypatch.setattr(lexical_module, "NUMBA_FROM_CHUNKS", 100)
    compiled = build(texts)
    assert reference.retriever is not None and compiled.retriever is not None
    assert (reference.retriever.backend, compiled.retriever.backend) == ("numpy", "numba")
    compiled.save(tmp_path)
    reloaded = LexicalIndex.load(tmp_path)
    assert reloaded.retriever is not None and reloaded.retriever.backend == "numba"
    for query in ("w1 w2 w3", "w17", "w250 w251 w9 w9"):
        scores, _ = reference.search(query, 10)
        every = dict(zip(*reversed(reference.search(query, 400)), strict=True))
        for other in (compiled, reloaded):
            other_scores, other_ids = other.search(query, 10)
            np.testing.assert_allclose(other_scores, scores, rtol=1e-5)  # ties may swap ids
            np.testing.assert_allclose([every[i] for i in other_ids], other_scores, rtol=1e-5)


def _common_and_rare() -> dict[int, str]:
    """Twelve chunks: "common" in nine of them, each "rareN" in one."""
    return {i: ("common " if i < 9 else "") + f"rare{i} filler{i % 3}" for i in range(12)}


def test_a_small_collection_scores_every_query_token() -> None:
    index = build(_common_and_rare())
    assert index.query_tokens(["common", "rare1"]) == ["common", "rare1"]
    scores, ids = index.search("common rare1", 12)
    exact_scores, exact_ids = index.search_tokens(["common", "rare1"], 12, exact=True)
    assert ids.tolist() == exact_ids.tolist()
    np.testing.assert_allclose(scores, exact_scores)


def test_a_large_collection_leaves_out_tokens_in_over_half_its_chunks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import index.lexical as lexical_module

    monkeypatch.setattr(lexical_module, "PRUNE_FROM_CHUNKS", 10)
    index = build(_common_and_rare())
    # "common" is in 9 of 12 chunks, "filler0" in 4: only the first is over half
    assert index.query_tokens(["common", "rare1", "filler0", "common"]) == ["rare1", "filler0"]
    scores, ids = index.search("common rare1", 12)
    assert ids.tolist() == [1]  # the eight other chunks with "common" are no longer matches
    exact_scores, exact_ids = index.search_tokens(["common", "rare1"], 12, exact=True)
    assert len(exact_ids) == 9 and exact_ids[0] == 1 and exact_scores[0] > scores[0]
    np.testing.assert_allclose(scores, index.search_tokens(["rare1"], 12, exact=True)[0])


def test_a_query_of_common_tokens_only_keeps_them(monkeypatch: pytest.MonkeyPatch) -> None:
    import index.lexical as lexical_module

    monkeypatch.setattr(lexical_module, "PRUNE_FROM_CHUNKS", 10)
    index = build(_common_and_rare())
    assert index.query_tokens(["common", "unknown"]) == ["common", "unknown"]
    assert len(index.search("common", 12)[1]) == 9
