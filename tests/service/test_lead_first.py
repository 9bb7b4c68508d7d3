"""`lead_first`: the answer is written from the leading sentences alone, and from every passage
only when that answer is refused (service/answering.py, service/writer.py `attempt`)."""

from __future__ import annotations

from pathlib import Path

from service.answer import refusal
from service.ask_events import AskResult
from service.generation.base import ChatMessage
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

QUESTION = "2024年核医学年会在哪个城市举办？"


def _passages_read(messages: list[ChatMessage]) -> int:
    """How many numbered passages the answer prompt holds."""
    text = messages[-1]["content"]
    return sum(f"[{n}] " in text for n in range(1, 21))


def _answer(tmp_path: Path, generator: FakeGenerator, **settings: object) -> AskResult:
    answerer = build_fake_answerer(
        make_settings(tmp_path, **settings), generators=[generator, generator]
    )
    try:
        return answerer.ask(QUESTION)
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
