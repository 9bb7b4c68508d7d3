"""Lexical folding, segmentation and language detection."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jieba
import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.loaders import load_collection
from index.textnorm import (
    detect_text_language,
    index_tokens,
    normalise_for_lexical,
    pinyin_ngrams,
    romanised_name_tokens,
    sound_tokens,
    tokenize,
)

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


@pytest.mark.parametrize(
    ("traditional", "simplified"),
    [
        ("專家學者共聚成都 研討醫工結合新浪潮", "专家学者共聚成都 研讨医工结合新浪潮"),
        ("分子影像精準診療協同創新中心", "分子影像精准诊疗协同创新中心"),
        ("國家衛生健康委體制改革司副司長林莉表示", "国家卫生健康委体制改革司副司长林莉表示"),
    ],
)
def test_traditional_and_simplified_tokenize_identically(traditional: str, simplified: str) -> None:
    assert normalise_for_lexical(traditional) == normalise_for_lexical(simplified)
    assert tokenize(traditional) == tokenize(simplified)
    assert tokenize(traditional)


def test_full_width_ascii_folds_to_half_width() -> None:
    assert normalise_for_lexical("ＰＥＴ／ＣＴ　２０２３") == "pet/ct 2023"
    assert tokenize("ＰＥＴ／ＣＴ檢查２０２３年") == tokenize("PET/CT检查2023年")


def test_english_is_lower_cased_without_punctuation_and_numbers_stay() -> None:
    assert tokenize("Prof. Li, the Director (U.S.) said: 200 Experts!") == [
        "prof",
        "li",
        "the",
        "director",
        "u",
        "s",
        "said",
        "200",
        "experts",
    ]


def test_whitespace_and_punctuation_tokens_are_dropped() -> None:
    tokens = tokenize("會議，於 「2024年」 召開。\n\n—— ……")
    assert tokens and all(token.strip() and any(ch.isalnum() for ch in token) for token in tokens)
    assert "2024" in tokens


def test_search_mode_matches_more_partial_queries() -> None:
    """Why tokenize uses lcut_for_search: queries naming part of a compound still match.

    Every dictionary word inside a 3+ character word of the corpus (``医科`` in ``医科大学``) is
    a query; it matches when all its tokens are among the document's tokens. On the bundled
    corpus: lcut 204/496, lcut_for_search 475/496.
    """
    documents, _ = load_collection(CORPUS, max_bytes=10 * 1024 * 1024)
    text = normalise_for_lexical("\n".join(d.text for d in documents))
    tokenize("")  # initialise jieba quietly
    words = {
        w for w in jieba.lcut(text) if len(w) >= 3 and all("\u4e00" <= c <= "\u9fff" for c in w)
    }
    queries = {
        word[i:j]
        for word in words
        for i in range(len(word))
        for j in range(i + 2, len(word) + 1)
        if (i, j) != (0, len(word)) and jieba.dt.FREQ.get(word[i:j])
    }
    rates = {}
    for name, cut in (("lcut", jieba.lcut), ("lcut_for_search", jieba.lcut_for_search)):
        document_tokens = set(cut(text))
        matched = sum(all(t in document_tokens for t in cut(q)) for q in queries)
        rates[name] = matched / len(queries)
    assert rates["lcut_for_search"] > 0.9 > 0.5 > rates["lcut"]


def test_tokenize_emits_sub_words_of_compounds() -> None:
    assert {"医科", "大学", "医科大学"} <= set(tokenize("山西醫科大學"))


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("專家學者共聚成都", "zh"),
        ("第十三届年会在西安召开，PET/CT 与 SPECT 设备", "zh"),
        ("The conference was held in Taiyuan.", "en"),
        ("The 中国 conference was held in Taiyuan.", "en"),
        ("", "en"),
        ("12345 !!!", "en"),
    ],
)
def test_detect_text_language(text: str, language: str) -> None:
    assert detect_text_language(text) == language


def test_jieba_initialises_quietly() -> None:
    root = Path(__file__).resolve().parents[2]
    script = "from index.textnorm import tokenize; print(tokenize('山西醫科大學'))"
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    assert "医科" in done.stdout
    assert done.stderr == ""


def test_pinyin_ngrams_spell_each_two_and_three_adjacent_characters() -> None:
    assert pinyin_ngrams("唐勇林") == ["tangyong", "yonglin", "tangyonglin"]
    assert pinyin_ngrams("劉亞強") == pinyin_ngrams("刘亚强")  # either script sounds the same
    assert pinyin_ngrams("李思進, Li Sijin") == ["lisi", "sijin", "lisijin"]  # Han runs only


@given(st.text(max_size=40))
def test_pinyin_ngrams_are_lower_case_letters_at_most_two_per_character(text: str) -> None:
    grams = pinyin_ngrams(text)
    assert len(grams) <= 2 * len(text)
    assert all(gram.isascii() and gram.isalpha() and gram.islower() for gram in grams)


def test_index_tokens_are_the_words_then_the_sounds() -> None:
    text = "清華大學劉亞強教授"
    assert index_tokens(text) == tokenize(text) + pinyin_ngrams(text)


@pytest.mark.parametrize(
    ("question", "expected", "absent"),
    [
        ("What position does Tang Yonglin hold?", {"yonglin", "tangyonglin"}, {"tang", "what"}),
        ("Where is Xi'an?", {"xian"}, {"where", "is"}),
        ("What was Kong Fanpu's keynote about?", {"fanpu", "kongfanpu"}, {"fanpus"}),
        ("What was Kong Fanpu’s keynote about?", {"kongfanpu"}, {"fanpus"}),
        ("the state of nuclear medicine", set(), {"of", "the", "state", "nuclear"}),
    ],
)
def test_romanised_name_tokens_keep_words_that_spell_two_or_three_syllables(
    question: str, expected: set[str], absent: set[str]
) -> None:
    tokens = set(romanised_name_tokens(question))
    assert expected <= tokens and not tokens & absent, tokens


def test_an_english_name_meets_the_chinese_text_that_writes_it() -> None:
    """What cross-lingual search relies on: the two scripts share tokens for a name."""
    chinese = set(index_tokens("大數據辦公室主任唐勇林表示"))
    assert {"yonglin", "tangyonglin"} <= chinese & set(sound_tokens("Tang Yonglin said", "en"))
    english = set(index_tokens("In his speech, Li Sijin shared the process"))
    assert "sijin" in english & set(sound_tokens("李思进分享了什么", "zh"))
