"""Answers in the question's language: a sentence the model wrote in another language is
translated, its citations kept (service/answer_language.py and the SentenceGate's use of it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.names import person_names
from index.textnorm import script_counts
from index.translations import chunk_sentences
from ragqa.errors import GenerationFailed
from service.answer_language import (
    faithful,
    in_wrong_language,
    needs_retelling,
    retell,
    retell_text,
)
from service.answer_stream import SentenceGate
from service.answering import Answerer
from service.generation.base import ChatMessage
from service.language import to_traditional
from service.passages import Passage
from tests.service.conftest import build_fake_answerer, make_settings

ENGLISH = {  # people's names reach the translator in pinyin
    "Yi Qun是四川省肿瘤医院党委书记": "Yi Qun is the Party secretary of Sichuan Cancer Hospital",
    "论坛在太原举办": "The forum was held in Taiyuan",
}
CHINESE = {"The forum was held in Taiyuan in 2023": "论坛于2023年在太原举办"}


class Dictionary:
    """A translator that knows a few sentences, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str]] = []

    def __call__(self, text: str, target: str) -> str | None:
        self.asked.append((text, target))
        return (ENGLISH if target == "en" else CHINESE).get(text)


@pytest.mark.parametrize(
    ("answer", "language", "wrong"),
    [
        ("易群是四川省肿瘤医院党委书记[1]。", "en", True),
        ("The secretary is Yi Qun (易群) [1].", "en", False),
        ("Li Hua (李华) chaired it [1], with about 200 guests.", "en", False),
        ("Held in Taiyuan [1].", "zh-Hans", True),
        ("致辞的外宾有Prof. Odysseas-Ioannis Zoras和Prof. Minoru Tsuzuki[1]。", "zh-Hant", False),
        ("论坛在太原举办[1]。", "zh-Hant", False),  # the script is put right by the service
    ],
)
def test_an_answer_in_another_language_than_the_question_is_told_apart(
    answer: str, language: str, wrong: bool
) -> None:
    assert in_wrong_language(answer, language) is wrong


def test_a_chinese_sentence_for_an_english_question_is_translated_with_its_markers() -> None:
    told = Dictionary()
    assert retell("易群是四川省肿瘤医院党委书记[1]。", "en", told) == (
        "Yi Qun is the Party secretary of Sichuan Cancer Hospital[1]."
    )
    assert told.asked == [("Yi Qun是四川省肿瘤医院党委书记", "en")]


def test_an_english_sentence_for_a_traditional_question_comes_back_in_traditional() -> None:
    assert retell("The forum was held in Taiyuan in 2023 [2].", "zh-Hant", Dictionary()) == (
        "論壇於2023年在太原舉辦[2]。"
    )


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("The forum was held in Taiyuan [1].", "en"),
        ("论坛在太原举办[1]。", "zh-Hans"),
        ("2023 [1].", "zh-Hans"),  # nothing to translate: a figure reads the same
        ("[1]", "en"),
    ],
)
def test_a_sentence_in_the_questions_language_is_not_sent_to_the_translator(
    sentence: str, language: str
) -> None:
    told = Dictionary()
    assert retell(sentence, language, told) == sentence  # type: ignore[arg-type]
    assert told.asked == []


def failing(text: str, target: str) -> str:
    raise GenerationFailed("the engine went away")


@pytest.mark.parametrize("translate", [Dictionary(), failing, lambda text, target: "还是中文"])
def test_without_a_translation_the_sentence_stays_as_the_model_wrote_it(translate: object) -> None:
    # Dictionary() does not know this sentence; the lambda answers in the wrong language again.
    sentence = "大会于11月29日开幕[1]。"
    assert retell(sentence, "en", translate) == sentence  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("source", "made", "target", "kept"),
    [
        ("Tian Rong教授主持开幕式", "Professor Tian Rong (田蓉) chaired the opening", "en", True),
        # The 1.5B model's own try at 田蓉教授主持开幕式: a guessed name, Chinese left over.
        ("Tian Rong教授主持开幕式", "Professor Tan Yong 主持开幕式", "en", False),
        ("Tian Rong教授主持开幕式", "Professor Tian Rong 主持开幕式", "en", False),
        ("大会于11月29日开幕", "The congress opened on 30 November", "en", False),
        ("It opened in 2023 with 200 guests", "会议于2023年开幕，约200人参加", "zh", True),
        ("It opened in 2023 with 200 guests", "会议于2022年开幕，约200人参加", "zh", False),
    ],
)
def test_a_translation_that_loses_a_name_or_a_figure_is_not_faithful(
    source: str, made: str, target: str, kept: bool
) -> None:
    assert faithful(source, made, target) is kept


def test_a_sentence_whose_translation_is_not_faithful_stays_as_written() -> None:
    def guesses(text: str, target: str) -> str:
        return "Professor Tan Yong chaired the opening ceremony"

    sentence = "田蓉教授主持开幕式[1]。"
    assert retell(sentence, "en", guesses) == sentence


def test_only_the_sentences_in_another_language_of_a_text_are_translated() -> None:
    text = "It was in 2023 [1]. 论坛在太原举办[2]。\nSee [3]."
    assert needs_retelling(text, "en") and not needs_retelling("It was in 2023 [1].", "en")
    assert retell_text(text, "en", Dictionary()) == (
        "It was in 2023 [1]. The forum was held in Taiyuan[2].\nSee [3]."
    )


PASSAGES = [
    Passage.of(1, "a.txt", "a.txt#1", "A", "四川省肿瘤医院党委书记易群致辞。", 0, 16, 0.5),
    Passage.of(2, "b.txt", "b.txt#2", "B", "论坛在太原举办。", 0, 8, 0.5),
]


def test_the_gate_holds_a_sentence_in_another_language_and_sends_it_translated() -> None:
    told = Dictionary()
    gate = SentenceGate(PASSAGES, "en", "Who is the Party secretary?", told)
    sent = [gate.feed(p) for p in ["Here is the answer. ", "易群是四川省", "肿瘤医院党委书记[1]。"]]
    sent += [gate.feed("论坛在太原举办[2]。"), gate.finish()]
    assert sent[0] == "" and sent[1].startswith("Here is the answer.")  # sent as it came
    assert sent[2:4] == ["", ""]  # held: the translator waits for the model to finish
    assert "Yi Qun" in sent[4] and "Taiyuan" in sent[4] and "易" not in "".join(sent)
    assert told.asked == [(s, "en") for s in ENGLISH]  # once each, after the model was done
    assert gate.written == "Here is the answer. " + sent[4]
    assert gate.retell_ms is not None and gate.retell_ms >= 0


def test_without_a_translator_the_gate_sends_what_the_model_wrote() -> None:
    gate = SentenceGate(PASSAGES, "en", "Who is the Party secretary?")
    sent = [gate.feed("易群是四川省肿瘤医院党委书记[1]。"), gate.finish()]
    assert "易群" in "".join(sent)
    assert gate.retell_ms is None


def test_an_answer_in_chinese_to_an_english_question_is_returned_in_english(
    tmp_path: Path,
) -> None:
    """The whole answerer: the query translator's model translates the answer's sentence,
    and the answer keeps its citation of the passage."""

    def translate(messages: list[ChatMessage]) -> str:
        asked = messages[-1]["content"]
        sentence = asked.split("Sentence: ", 1)[-1]
        return ENGLISH.get(sentence, "translated query")

    answerer = build_fake_answerer(
        make_settings(tmp_path), lambda messages: "论坛在太原举办[1]。", translate=translate
    )
    result = answerer.ask("Where was the molecular imaging forum held?")
    assert not result.refused, result
    assert result.answer == "The forum was held in Taiyuan[1].", result.answer
    assert result.raw_answer == "论坛在太原举办[1]。"  # what the model wrote is kept
    assert result.timings["retell_ms"] >= 0
    assert [c.n for c in result.citations] == [1]


@pytest.mark.slow
def test_the_real_model_puts_answer_sentences_into_the_questions_language(
    real_answerer: Answerer,
) -> None:
    translate = real_answerer.answer_translator
    assert translate is not None
    snapshot = real_answerer.snapshot
    sentences = [
        s
        for i in snapshot.chunk_ids()  # type: ignore[attr-defined]
        for s in chunk_sentences(snapshot.chunk(int(i)))
        if script_counts(s)[1] == 0 and re.search(r"20\d\d年", s) and 20 < len(s) < 80
    ][:6]
    assert sentences
    translated = 0
    for sentence in sentences:
        written = sentence.rstrip("。") + "[1]。"
        told = retell(written, "en", translate)
        if told == written:  # not faithful enough to use: kept as the model wrote it
            continue
        translated += 1
        assert told.endswith("[1].") and not in_wrong_language(told, "en"), told
        for year in re.findall(r"(20\d\d)年", sentence):
            assert year in told, (sentence, told)
        for _, romanised in person_names(sentence):
            assert romanised in told, (sentence, told)
    assert translated, sentences
    chinese = retell("The forum was held in Taiyuan in 2023 [2].", "zh-Hant", translate)
    assert chinese.endswith("[2]。") and "2023" in chinese, chinese
    assert script_counts(chinese)[0] > 4 and to_traditional(chinese) == chinese, chinese
