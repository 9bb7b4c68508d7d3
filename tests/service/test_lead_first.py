"""`lead_first`: where a test chose the leading sentences (the kind of answer asked for, a quoted
term, an edition, a post) and they are in the question's language, the answer is written from
them alone, and from every passage only when that answer is refused (service/answering.py,
service/writer.py `attempt`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from index.documents import Chunk
from service.answer import refusal
from service.answering import _same_language
from service.ask_events import AskResult
from service.evidence import Evidence
from service.generation.base import ChatMessage
from service.passages import SearchHit
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

QUESTION = "2024年四川省核医学学术年会在哪个城市举办？"  # asks a place: a city


def _passages_read(messages: list[ChatMessage]) -> int:
    """How many numbered passages the answer prompt holds."""
    text = messages[-1]["content"]
    return sum(f"[{n}] " in text for n in range(1, 21))


def _answer(
    tmp_path: Path, generator: FakeGenerator, question: str = QUESTION, **settings: object
) -> AskResult:
    answerer = build_fake_answerer(
        make_settings(tmp_path, **settings), generators=[generator, generator]
    )
    try:
        return answerer.ask(question)
    finally:
        answerer.close()


def test_the_answer_is_written_from_the_lead_alone(tmp_path: Path) -> None:
    generator = FakeGenerator(cite_first_passage)
    result = _answer(tmp_path, generator, lead_first=True)
    assert [_passages_read(call) for call in generator.calls] == [1]
    assert not result.refused
    # The answer cites the lead as [1], the first of every passage the client is shown.
    assert len(result.passages) > 1
    assert result.citations[0].passage == result.passages[0]
    assert "lead_first_ms" in result.timings


def test_a_refused_lead_answer_is_written_again_from_every_passage(tmp_path: Path) -> None:
    def refuse_the_lead_alone(messages: list[ChatMessage]) -> str:
        if _passages_read(messages) == 1:
            return refusal("zh-Hans")
        return cite_first_passage(messages)

    generator = FakeGenerator(refuse_the_lead_alone)
    result = _answer(tmp_path, generator, lead_first=True)
    read = [_passages_read(call) for call in generator.calls]
    assert read[0] == 1 and len(read) == 2 and read[1] > 1
    assert not result.refused
    assert result.raw_answer == cite_first_passage(generator.calls[1])
    assert "lead_refused_ms" in result.timings and "lead_first_ms" not in result.timings


def test_a_lead_judged_unanswered_is_not_written_from(tmp_path: Path) -> None:
    """The support judgement of the lead alone refuses it before the model writes; the
    passages are then judged, and answered from, together."""
    generator = FakeGenerator(
        cite_first_passage, support=lambda messages: 0.9 if _passages_read(messages) > 1 else 0.1
    )
    result = _answer(tmp_path, generator, lead_first=True)
    assert [_passages_read(call) for call in generator.scored] == [1, len(result.passages)]
    assert [_passages_read(call) for call in generator.calls] == [len(result.passages)]
    assert not result.refused and result.support == 0.9


def test_off_the_answer_reads_every_passage(tmp_path: Path) -> None:
    generator = FakeGenerator(cite_first_passage)
    result = _answer(tmp_path, generator, lead_first=False)
    assert [_passages_read(call) for call in generator.calls] == [len(result.passages)]
    assert len(result.passages) > 1


def test_a_lead_no_test_chose_is_not_read_alone(tmp_path: Path) -> None:
    """Asked no kind, quoting nothing: the lead is only the best-matching sentence, and the
    answer reads every passage."""
    generator = FakeGenerator(cite_first_passage)
    result = _answer(tmp_path, generator, "会议讨论了哪些话题？", lead_first=True)
    assert [_passages_read(call) for call in generator.calls] == [len(result.passages)]
    assert "lead_first_ms" not in result.timings and "lead_refused_ms" not in result.timings


@pytest.mark.parametrize(
    ("question", "lead", "alone"),
    [
        ("年会在哪个城市举办？", "年會在成都舉辦。", True),  # either script is Chinese
        ("Where was the annual meeting held?", "The meeting was held in Chengdu.", True),
        ("Where was the annual meeting held?", "年会在成都举办。", False),
        ("年会在哪个城市举办？", "The meeting was held in Chengdu.", False),
    ],
)
def test_a_lead_is_read_alone_only_in_the_question_s_language(
    question: str, lead: str, alone: bool
) -> None:
    chunk = Chunk(chunk_id="d#0", doc_id="d", n=0, text=lead, start=0, end=len(lead))
    evidence = Evidence(hits=[SearchHit(chunk, 1.0)], scores={("d", 0): 1.0}, timings={})
    assert _same_language(question, evidence) is alone


@pytest.mark.parametrize(("support", "alone"), [(0.8, True), (0.7, False)])
def test_a_lead_answer_is_kept_only_above_its_own_support_threshold(
    tmp_path: Path, support: float, alone: bool
) -> None:
    """0.7 passes `support_threshold` (0.60) but not `lead_support_threshold` (0.75): read
    alone, the lead is judged by the stricter bar, and failing it, every passage is read."""
    generator = FakeGenerator(cite_first_passage, support=lambda messages: support)
    result = _answer(tmp_path, generator, lead_first=True)
    read = [_passages_read(call) for call in generator.calls]
    assert read == ([1] if alone else [len(result.passages)])
    assert not result.refused and result.support == support
