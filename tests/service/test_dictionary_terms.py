"""An English question's words as the Chinese words CC-CEDICT gives for them
(service.dictionary_terms), for the lexical search of Chinese passages."""

from __future__ import annotations

from service.dictionary_terms import chinese_terms

KEYNOTE = "Who gave the keynote on drug registration policy at the conference in Xi'an?"


def test_each_word_finds_the_chinese_word_whose_sense_it_is() -> None:
    terms = chinese_terms(KEYNOTE)
    for word in ("药品", "注册", "政策", "基调"):  # drug, (to) register, policy, keynote (speech)
        assert word in terms


def test_a_word_finds_the_sense_of_another_form_of_it() -> None:
    """"registration" and "to register" share their stem's first letters."""
    assert "注册" in chinese_terms("registration")
    assert "注册" not in chinese_terms("regular")


def test_a_phrase_finds_a_sense_of_several_words_first() -> None:
    terms = chinese_terms("the Ministry of Education")
    assert "教育部" in terms
    assert terms.index("教育部") < terms.index("教育")


def test_words_with_no_subject_of_their_own_find_nothing() -> None:
    assert chinese_terms("Who was it, and where and when did they do that?") == []
    assert chinese_terms("") == []


def test_a_chinese_question_has_no_english_words_to_look_up() -> None:
    assert chinese_terms("药品注册政策的主旨报告是谁作的？") == []


def test_each_word_comes_once() -> None:
    terms = chinese_terms("drug policy, drug policy and drugs")
    assert len(terms) == len(set(terms)) and "药品" in terms
