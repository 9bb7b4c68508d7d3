"""A refused answer written again from excerpts (`retry_excerpts`): only when the model
answered and the answer checks refused it, once, and kept only if it passes them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from service.answering import DoneEvent, PassagesEvent
from service.generation.base import ChatMessage
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

QUESTION = "第二届全国分子影像精准诊疗协同创新高峰论坛在哪里举办？"
# A figure no passage states: the claim check drops the sentence, and the answer is refused.
INVENTED = "论坛共有98765人参加 [1]。"


def _whole(chunk_id: str) -> bool:
    return chunk_id.rpartition("#")[2].isdigit()


def _replies(*answers: str) -> tuple[list[list[ChatMessage]], Callable[[list[ChatMessage]], str]]:
    """A fake model's reply: `answers` in turn (the last one again after them)."""
    calls: list[list[ChatMessage]] = []

    def reply(messages: list[ChatMessage]) -> str:
        calls.append(messages)
        answer = answers[min(len(calls), len(answers)) - 1]
        return cite_first_passage(messages) if answer == "cite" else answer

    return calls, reply


def test_an_answer_the_checks_refuse_is_written_again_from_excerpts(tmp_path: Path) -> None:
    calls, reply = _replies(INVENTED, "cite")
    answerer = build_fake_answerer(make_settings(tmp_path, retry_excerpts=4), reply)
    events = list(answerer.ask_events(QUESTION))
    listed = [e.passages for e in events if isinstance(e, PassagesEvent)]
    done = [e.result for e in events if isinstance(e, DoneEvent)]
    assert len(calls) == 2 and len(listed) == 2 and len(done) == 1
    result = done[0]
    assert not result.refused and result.citations
    assert "98765" not in result.answer
    # The second answer was written from excerpts, cut from the documents at exact offsets.
    assert any(_whole(p.chunk_id) for p in listed[0])
    assert result.passages == listed[1] and not any(_whole(p.chunk_id) for p in listed[1])
    for passage in result.passages:
        document = answerer.snapshot.document_text(passage.doc_id)
        assert document[passage.start : passage.end] == passage.text
    for citation in result.citations:
        document = answerer.snapshot.document_text(citation.doc_id)
        assert document[citation.start : citation.end] == citation.quote
    assert result.timings["retry_ms"] > 0 and "evidence_ms" in result.timings


def test_a_retried_answer_the_checks_refuse_again_is_a_refusal(tmp_path: Path) -> None:
    calls, reply = _replies(INVENTED)
    answerer = build_fake_answerer(make_settings(tmp_path, retry_excerpts=4), reply)
    result = answerer.ask(QUESTION)
    assert len(calls) == 2  # once, not again and again
    assert result.refused and not result.citations and "98765" not in result.answer


def test_the_models_own_refusal_is_not_retried(tmp_path: Path) -> None:
    calls, reply = _replies("文档中没有找到这个问题的答案。")
    answerer = build_fake_answerer(make_settings(tmp_path, retry_excerpts=4), reply)
    result = answerer.ask(QUESTION)
    assert result.refused and len(calls) == 1
    assert "retry_ms" not in result.timings


def test_an_answer_the_checks_pass_is_not_retried(tmp_path: Path) -> None:
    calls, reply = _replies("cite")
    answerer = build_fake_answerer(make_settings(tmp_path, retry_excerpts=4), reply)
    events = list(answerer.ask_events(QUESTION))
    assert len(calls) == 1
    assert sum(isinstance(e, PassagesEvent) for e in events) == 1
    result = events[-1].result  # type: ignore[union-attr]
    assert not result.refused and all(_whole(p.chunk_id) for p in result.passages[1:])


def test_without_the_setting_a_refused_answer_stays_refused(tmp_path: Path) -> None:
    calls, reply = _replies(INVENTED, "cite")
    answerer = build_fake_answerer(make_settings(tmp_path, retry_excerpts=0), reply)
    result = answerer.ask(QUESTION)
    assert result.refused and len(calls) == 1 and answerer.retry is None


def test_a_retry_is_judged_like_the_first_answer(tmp_path: Path) -> None:
    """With the support judgement on, the excerpts are judged too, and a retry they do not
    support is refused unwritten."""
    calls, reply = _replies(INVENTED, "cite")
    judged: list[str] = []

    def support(messages: list[ChatMessage]) -> float:
        judged.append(messages[-1]["content"])
        return 0.9 if len(judged) == 1 else 0.1

    settings = make_settings(tmp_path, retry_excerpts=4, support_threshold=0.5)
    generators = [FakeGenerator(reply, support) for _ in range(settings.max_concurrent_generations)]
    answerer = build_fake_answerer(settings, generators=generators)
    result = answerer.ask(QUESTION)
    assert len(judged) == 2 and len(calls) == 1
    assert result.refused and result.support == 0.1
