"""Answering in the passages' language, then translating the checked answer sentence by
sentence (fast tier: fake models; the real model's run is in test_answers_real.py)."""

from __future__ import annotations

from pathlib import Path

from ragqa.types import Language
from service.answer import CitedAnswer, refusal
from service.generation.base import ChatMessage
from service.passages import Citation, Passage
from service.pivot import pivot_question, reading_language, translate_answer
from service.translation import LlmTranslator
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

ZH = "四川省肿瘤医院党委书记易群在会上致辞，近150人参加了会议。"
ENGLISH_DOC = "004_c1c1280c1642610c.txt"  # the bundled corpus's English article
EN = "The conference in Chengdu was attended by nearly 150 people."


def passage(n: int, text: str) -> Passage:
    return Passage.of(
        n=n, doc_id=f"{n}.txt", chunk_id=f"{n}.txt#0", title="t", text=text, start=0,
        end=len(text), score=0.5,
    )  # fmt: skip


class Dictionary:
    """A translator that knows a few sentences; anything else comes back unchanged."""

    def __init__(self, known: dict[str, str]) -> None:
        self.known = known
        self.asked: list[tuple[str, str]] = []

    def translate(self, query: str, target: str) -> str:
        self.asked.append((query, target))
        return self.known.get(query, query)

    def translate_sentence(self, sentence: str, target: str) -> str:
        self.asked.append((sentence, target))
        return self.known.get(sentence, sentence)


def test_the_answer_is_read_in_the_language_most_passages_are_in() -> None:
    chinese = [passage(1, ZH), passage(2, ZH), passage(3, EN)]
    english = [passage(1, EN), passage(2, EN), passage(3, ZH)]
    assert reading_language("en", chinese) == "zh-Hans"
    assert reading_language("zh-Hant", english) == "en"
    for language in ("zh-Hans", "zh-Hant"):  # both scripts read Chinese passages as they are
        assert reading_language(language, chinese) == language
    assert reading_language("en", english) == "en"
    assert reading_language("en", [passage(1, ZH), passage(2, EN)]) == "en"  # a tie: as asked
    assert reading_language("en", []) == "en"


def test_the_pivot_question_keeps_the_original_after_its_translation() -> None:
    translator = Dictionary({"Who spoke?": "谁致辞了？"})
    assert pivot_question("Who spoke?", "zh-Hans", translator) == "谁致辞了？ (Who spoke?)"
    assert translator.asked == [("Who spoke?", "zh")]
    assert pivot_question("Untranslatable?", "zh-Hans", Dictionary({})) == "Untranslatable?"


def cited(answer: str, *passages: Passage) -> CitedAnswer:
    return CitedAnswer(
        answer, False, [Citation(n=i, passage=p, quote=p.text[:5], start=0, end=5)
                        for i, p in enumerate(passages, start=1)],
    )  # fmt: skip


def test_each_sentence_is_translated_and_keeps_its_markers_and_citations() -> None:
    source = cited("易群是党委书记[1]。会议有近150人参加[1][2]。", passage(1, ZH), passage(2, ZH))
    translator = Dictionary(
        {
            "易群是党委书记。": "Yi Qun is the Party secretary.",
            "会议有近150人参加。": "Nearly 150 people attended the meeting.",
        }
    )
    result = translate_answer(source, "en", translator)
    assert (
        result.answer
        == "Yi Qun is the Party secretary[1]. Nearly 150 people attended the meeting[1][2]."
    )
    assert result.citations == source.citations and not result.refused
    assert {target for _, target in translator.asked} == {"en"}


def test_a_translation_that_states_a_figure_its_sentence_does_not_is_not_used() -> None:
    source = cited("会议有近150人参加[1]。", passage(1, ZH))
    result = translate_answer(
        source, "en", Dictionary({"会议有近150人参加。": "About 250 attended."})
    )
    assert result.answer == "会议有近150人参加[1]。"  # the checked sentence, as the passage says


def test_an_answer_into_traditional_chinese_is_written_in_its_script() -> None:
    source = cited("The meeting was held in Chengdu [1].", passage(1, EN))
    result = translate_answer(
        source, "zh-Hant", Dictionary({"The meeting was held in Chengdu.": "会议在成都举办。"})
    )
    assert result.answer == "會議在成都舉辦[1]。"


def test_a_refusal_is_given_in_the_question_language() -> None:
    source = CitedAnswer(refusal("zh-Hans"), True, [])
    translator = Dictionary({})
    language: Language = "en"
    assert translate_answer(source, language, translator) == CitedAnswer(refusal("en"), True, [])
    assert translator.asked == []  # nothing to translate


def translating_model(messages: list[ChatMessage]) -> str:
    """The fake translator: it knows the question and the answer sentence."""
    request = messages[-1]["content"]
    if request.endswith("Query: Who spoke at the Chengdu session?"):
        return "谁在成都会议上致辞？"
    if request.endswith("Sentence: 易群致辞。"):
        return "Yi Qun spoke."
    return "?"


def test_an_english_question_over_chinese_passages_is_answered_in_chinese_then_translated(
    tmp_path: Path,
) -> None:
    prompts_seen: list[list[ChatMessage]] = []

    def model(messages: list[ChatMessage]) -> str:
        prompts_seen.append(messages)
        return "易群致辞[1]。"

    answerer = build_fake_answerer(make_settings(tmp_path), model)
    answerer.store.remove_documents([ENGLISH_DOC])  # every passage found is Chinese
    answerer.translator = LlmTranslator(FakeGenerator(translating_model))
    result = answerer.ask("Who spoke at the Chengdu session?")
    assert result.answer == "Yi Qun spoke[1]." and result.language == "en"
    assert result.raw_answer == "易群致辞[1]。"  # what the model wrote, kept for evaluation
    assert [c.n for c in result.citations] == [1]
    request = prompts_seen[-1][-1]["content"]
    assert "谁在成都会议上致辞？ (Who spoke at the Chengdu session?)" in request
    assert "Answer in Simplified Chinese" in request
    assert "answer_translate_ms" in result.timings


def test_with_the_pivot_off_the_model_answers_in_the_question_language(tmp_path: Path) -> None:
    prompts_seen: list[list[ChatMessage]] = []

    def model(messages: list[ChatMessage]) -> str:
        prompts_seen.append(messages)
        return "Yi Qun spoke [1]."

    answerer = build_fake_answerer(make_settings(tmp_path, pivot_answers=False), model)
    answerer.store.remove_documents([ENGLISH_DOC])
    answerer.translator = LlmTranslator(FakeGenerator(translating_model))
    result = answerer.ask("Who spoke at the Chengdu session?")
    assert result.answer == "Yi Qun spoke [1]."
    request = prompts_seen[-1][-1]["content"]
    assert "Answer in English" in request and "谁在成都" not in request


def test_a_translation_that_garbles_a_name_is_not_used() -> None:
    """易群 is Yi Qun: "Ye Qun" names someone the passage does not."""
    source = cited("党委书记是易群[1]。", passage(1, ZH))
    garbled = translate_answer(
        source, "en", Dictionary({"党委书记是易群。": "The secretary is Ye Qun."})
    )
    assert garbled.answer == "党委书记是易群[1]。"
    right = translate_answer(
        source, "en", Dictionary({"党委书记是易群。": "The secretary is Yi Qun."})
    )
    assert right.answer == "The secretary is Yi Qun[1]."
