"""Sentence splitting and chunking: worked cases, the real articles, and hypothesis properties."""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from index.chunking import chunk_document, split_sentences, split_units
from index.documents import Chunk, Document, DocumentMeta
from index.loaders import load_collection

CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in split_sentences(text)]


def doc(text: str, title: str = "T") -> Document:
    return Document(doc_id="folder/a.txt", text=text, meta=DocumentMeta(title=title))


# --- split_sentences ---------------------------------------------------------------------------


def test_english_abbreviations_and_decimals_do_not_end_sentences() -> None:
    text = "Prof. Li met Dr. Wang on Dec. 22 in the U.S. today. It cost 3.5 dollars! Why?  Fine."
    assert sentences(text) == [
        "Prof. Li met Dr. Wang on Dec. 22 in the U.S. today.",
        "It cost 3.5 dollars!",
        "Why?",
        "Fine.",
    ]


def test_chinese_terminators_keep_closing_quotes_and_brackets() -> None:
    text = "他說：“會議很成功。”大家鼓掌！（完）真的？是的；好"
    assert sentences(text) == ["他說：“會議很成功。”", "大家鼓掌！", "（完）真的？", "是的；", "好"]


def test_paragraph_breaks_end_sentences_and_whitespace_is_excluded() -> None:
    text = "  開幕式\n\n程永忠教授致歡迎辭 \nA line without a stop\n"
    assert sentences(text) == ["開幕式", "程永忠教授致歡迎辭", "A line without a stop"]


def test_spans_index_the_text() -> None:
    text = "第一句。第二句。\nSecond paragraph. Done."
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "第一句。",
        "第二句。",
        "Second paragraph.",
        "Done.",
    ]


# --- chunk_document ----------------------------------------------------------------------------


def test_sentences_are_packed_whole_with_overlap() -> None:
    text = "一二三四五。六七八九十。甲乙丙丁戊。己庚辛壬癸。"
    chunks = chunk_document(doc(text), max_tokens=12, overlap_sentences=1)
    assert [c.text for c in chunks] == [
        "一二三四五。六七八九十。",
        "六七八九十。甲乙丙丁戊。",
        "甲乙丙丁戊。己庚辛壬癸。",
    ]


def test_no_overlap_when_it_would_crowd_out_the_next_sentence() -> None:
    text = "一二三四五六七八。甲乙丙丁戊己庚辛。"
    chunks = chunk_document(doc(text), max_tokens=12, overlap_sentences=1)
    assert [c.text for c in chunks] == ["一二三四五六七八。", "甲乙丙丁戊己庚辛。"]


def test_long_sentence_is_split_at_clause_marks() -> None:
    text = "第一部分很長很長，第二部分也很長、第三部分結束。短句。"
    chunks = chunk_document(doc(text), max_tokens=10, overlap_sentences=0)
    assert [c.text for c in chunks] == [
        "第一部分很長很長，",
        "第二部分也很長、",
        "第三部分結束。短句。",
    ]


def test_clause_without_marks_is_hard_cut_at_spaces_or_characters() -> None:
    english = "alpha beta gamma delta epsilon"
    assert [c.text for c in chunk_document(doc(english), max_tokens=12, overlap_sentences=0)] == [
        "alpha beta",
        "gamma delta",
        "epsilon",
    ]
    chinese = "一二三四五六七八九十甲乙"
    assert [c.text for c in chunk_document(doc(chinese), max_tokens=5, overlap_sentences=0)] == [
        "一二三四五",
        "六七八九十",
        "甲乙",
    ]


def test_chunk_records() -> None:
    chunks = chunk_document(
        doc("第一句。第二句。", title="標題"), max_tokens=4, overlap_sentences=0
    )
    assert chunks == [
        Chunk("folder/a.txt#0", "folder/a.txt", 0, "第一句。", 0, 4, "標題"),
        Chunk("folder/a.txt#1", "folder/a.txt", 1, "第二句。", 4, 8, "標題"),
    ]


def test_token_counter_is_the_measure() -> None:
    words = "one two three four five six seven eight nine ten"
    text = ". ".join(words.split()) + "."

    def count_words(s: str) -> int:
        return len(s.split())

    chunks = chunk_document(doc(text), max_tokens=3, overlap_sentences=0, count_tokens=count_words)
    assert all(count_words(c.text) <= 3 for c in chunks)
    assert [count_words(c.text) for c in chunks] == [3, 3, 3, 1]


def test_empty_document_has_no_chunks() -> None:
    assert chunk_document(doc(" \n\n "), max_tokens=10, overlap_sentences=1) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (10, -1)])
def test_bad_limits_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError):
        chunk_document(doc("句子。"), max_tokens=max_tokens, overlap_sentences=overlap)


# --- the real articles -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundled() -> list[Document]:
    documents, errors = load_collection(CORPUS, max_bytes=10 * 1024 * 1024)
    assert not errors
    return documents


@pytest.mark.parametrize("max_tokens", [60, 160, 300, 1000])
def test_damaged_articles_chunk_clean(bundled: list[Document], max_tokens: int) -> None:
    pinyin = re.compile(r"\([a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)|\?[a-zāáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜü]+\)")
    for document in bundled:
        chunks = chunk_document(document, max_tokens=max_tokens, overlap_sentences=1)
        assert chunks
        for chunk in chunks:
            assert document.text[chunk.start : chunk.end] == chunk.text
            assert len(chunk.text) <= max_tokens
            if document.doc_id.startswith(("000", "001")):
                assert not pinyin.search(chunk.text), chunk.chunk_id
                assert ",。" not in chunk.text and ",," not in chunk.text, chunk.chunk_id


# --- properties --------------------------------------------------------------------------------

TEXT_PIECES = st.sampled_from(
    [
        "醫",
        "学",
        "中心",
        "。",
        "！",
        "？",
        "；",
        "，",
        "、",
        "”",
        "「",
        "」",
        "（",
        "）",
        "Prof. ",
        "Dec. 22",
        "3.5",
        "U.S.",
        "word",
        " ",
        "  ",
        ".",
        ". ",
        "! ",
        "? ",
        ",",
        "\n",
        "\n\n",
        "\u3000",
        "a",
        "Z",
        "1",
    ]
)
DOCUMENT_TEXT = st.lists(TEXT_PIECES, max_size=120).map("".join)


def utf8_bytes(text: str) -> int:
    return len(text.encode("utf-8"))


@settings(max_examples=300, deadline=None)
@given(
    text=DOCUMENT_TEXT,
    max_tokens=st.integers(min_value=1, max_value=60),
    overlap=st.integers(min_value=0, max_value=3),
    counter=st.sampled_from([len, utf8_bytes]),
)
def test_chunking_properties(
    text: str, max_tokens: int, overlap: int, counter: Callable[[str], int]
) -> None:
    document = doc(text)
    chunks = chunk_document(
        document, max_tokens=max_tokens, overlap_sentences=overlap, count_tokens=counter
    )
    # offsets slice exactly, with no edge whitespace
    for chunk in chunks:
        assert text[chunk.start : chunk.end] == chunk.text
        assert chunk.text and chunk.text == chunk.text.strip()
    # in order
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert [c.end for c in chunks] == sorted(c.end for c in chunks)
    # every non-whitespace character is in some chunk
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # within the limit, except a single character that alone is over it
    for chunk in chunks:
        assert counter(chunk.text) <= max_tokens or len(chunk.text) == 1
    # stable, unique ids; deterministic
    assert [c.chunk_id for c in chunks] == [f"folder/a.txt#{n}" for n in range(len(chunks))]
    assert [c.n for c in chunks] == list(range(len(chunks)))
    assert (
        chunk_document(
            document, max_tokens=max_tokens, overlap_sentences=overlap, count_tokens=counter
        )
        == chunks
    )


@settings(max_examples=200, deadline=None)
@given(text=DOCUMENT_TEXT)
def test_sentence_spans_cover_text_in_order(text: str) -> None:
    spans = split_sentences(text)
    assert all(a < b for a, b in spans)
    assert all(b1 <= a2 for (_, b1), (a2, _) in pairwise(spans))
    covered = {i for a, b in spans for i in range(a, b)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    assert all(text[a:b] == text[a:b].strip() for a, b in spans)


@settings(max_examples=200, deadline=None)
@given(
    sentences_=st.lists(
        st.text(alphabet="一二三四五六七八九十", min_size=1, max_size=8), min_size=1, max_size=20
    )
)
def test_sentences_that_fit_are_never_cut(sentences_: list[str]) -> None:
    text = "".join(s + "。" for s in sentences_)
    chunks = chunk_document(doc(text), max_tokens=9, overlap_sentences=1)
    for chunk in chunks:
        assert chunk.text.endswith("。")
        assert chunk.start == 0 or text[chunk.start - 1] == "。"


def test_units_cut_only_the_long_sentences_at_their_clauses() -> None:
    guests = "，".join(f"第{i}位嘉宾某某教授" for i in range(1, 13)) + "出席了会议。"
    text = "论坛在太原召开。" + guests + "会议结束。"
    units = split_units(text, 40)
    pieces = [text[a:b] for a, b in units]
    assert pieces[0] == "论坛在太原召开。" and pieces[-1] == "会议结束。"
    assert len(pieces) > 3 and all(len(p) <= 40 for p in pieces)
    assert "".join(pieces) == text  # nothing lost or repeated, offsets exact
