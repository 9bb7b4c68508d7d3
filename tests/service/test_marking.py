"""Whole passages with their best-matching sentences in bold (`RAGQA_MARK_SENTENCES`)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import pytest

import prompts
from index.backend import SearchView
from service.answer import bold, build_messages, preamble, unbolded
from service.evidence import EvidenceOptions, EvidenceSelector, marked
from service.passages import Passage
from tests.conftest import FakeEmbedder
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings
from tests.service.test_evidence import DOCUMENT, OTHER, Documents, _hit

QUESTION = "第二届全国分子影像精准诊疗协同创新高峰论坛在哪里举办？"


def _passage(n: int, doc_id: str, text: str, start: int, end: int) -> Passage:
    return Passage(n, _hit(doc_id, text, start, end))


def test_bold_marks_the_first_occurrence_of_each_part_and_skips_absent_ones() -> None:
    text = "会议在太原召开。会议在太原召开。"
    assert bold(text, ["会议在太原召开。", "不在这里"]) == "**会议在太原召开。**会议在太原召开。"
    assert bold(text, []) == text


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["The **meeting", "** was in", " Taiyuan [1]."], "The meeting was in Taiyuan [1]."),
        (["a*", "*b*", "*"], "ab"),  # markers split across pieces
        (["5 *", " 3 = 15"], "5 * 3 = 15"),  # a lone asterisk is kept
        (["ends with a star *"], "ends with a star *"),
    ],
)
def test_unbolded_drops_markers_even_split_across_pieces(pieces: list[str], expected: str) -> None:
    assert "".join(unbolded(iter(pieces))) == expected


def test_marked_bolds_the_part_of_a_sentence_a_chunk_holds() -> None:
    # The chunk starts inside the sentence naming the hospital.
    cut = DOCUMENT.index("山西")
    passage = _passage(1, "a", DOCUMENT, cut, len(DOCUMENT))
    other = _passage(2, "b", OTHER, 0, len(OTHER))
    hits = [passage.hit]
    selector = EvidenceSelector(FakeEmbedder(), EvidenceOptions())  # type: ignore[arg-type]
    snapshot = cast(SearchView, Documents({"a": DOCUMENT, "b": OTHER}))
    best = selector.best(snapshot, ["会议由哪家医院承办？"], hits, 1)
    assert len(best) == 1 and best[0].text == "会议由山西医科大学第一医院承办。"
    out = marked([passage, other], best)
    assert out[0].marked == ("山西医科大学第一医院承办。",)
    assert out[1] is other  # another document: nothing marked
    assert selector.best(snapshot, [], hits, 2) == []


def test_marked_passages_and_examples_are_shown_in_bold_with_the_note() -> None:
    passage = marked(
        [_passage(1, "a", DOCUMENT, 0, len(DOCUMENT))],
        EvidenceSelector(FakeEmbedder(), EvidenceOptions()).best(  # type: ignore[arg-type]
            cast(SearchView, Documents({"a": DOCUMENT})), ["下一届论坛在哪里举行？"], [], 1
        ),
    )
    assert passage[0].marked == ()  # no hits, nothing chosen
    shown = Passage(1, _hit("a", DOCUMENT, 0, len(DOCUMENT)), marked=("下一届论坛将在西安举行。",))
    messages = build_messages("下一届论坛在哪里举行？", [shown], "zh-Hans")
    user = messages[-1]["content"]
    assert "**下一届论坛将在西安举行。**" in user
    assert user.startswith(prompts.template("marked"))
    # The worked examples show bold the same way, so the cached preamble is the marked one.
    assert messages[: len(preamble(marking=True))] == preamble(marking=True)
    assert preamble(marking=True) != preamble()
    examples = "".join(m["content"] for m in preamble(marking=True)[1:] if m["role"] == "user")
    assert "**市图书馆新馆于2021年9月1日正式向公众开放，**" in examples
    # Unmarked passages keep the plain prompt.
    plain = build_messages("下一届论坛在哪里举行？", [Passage(1, shown.hit)], "zh-Hans")
    assert "**" not in "".join(m["content"] for m in plain)


def test_the_answerer_marks_sentences_and_its_answer_carries_no_markers(tmp_path: Path) -> None:
    def reply(messages: list[dict[str, str]]) -> str:
        return "论坛在**太原**举办[1]。"

    settings = make_settings(tmp_path, mark_sentences=2)
    answerer = build_fake_answerer(settings, reply)  # type: ignore[arg-type]
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    result = answerer.ask(QUESTION)
    assert result.timings.get("mark_ms") is not None
    assert len(result.passages) == settings.context_k  # still whole passages
    marks = [m for p in result.passages for m in p.marked]
    # Two sentences, each marked in every (overlapping) passage that holds part of it.
    assert marks and all(len(p.marked) <= 2 for p in result.passages)
    prompt = fake.calls[-1][-1]["content"]
    assert all(f"**{m}**" in prompt for m in marks)
    assert "**" not in result.answer and "太原" in result.answer and not result.refused


def test_off_by_default_nothing_is_marked(tmp_path: Path) -> None:
    answerer = build_fake_answerer(make_settings(tmp_path))
    assert answerer.marker is None
    result = answerer.ask(QUESTION)
    assert all(not p.marked for p in result.passages)
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    assert "**" not in fake.calls[-1][-1]["content"]


@pytest.mark.slow
def test_the_real_embedder_marks_the_sentence_that_states_the_answer(
    real_embedder: object,
) -> None:
    hits = [_hit("a", DOCUMENT, 0, len(DOCUMENT)), _hit("b", OTHER, 0, len(OTHER))]
    snapshot = cast(SearchView, Documents({"a": DOCUMENT, "b": OTHER}))
    selector = EvidenceSelector(real_embedder, EvidenceOptions())  # type: ignore[arg-type]
    for question, expected in (
        ("哪家医院承办了这次会议？", "山西医科大学第一医院"),
        ("How many people attended the meeting in Chengdu?", "200 people"),
    ):
        best = selector.best(snapshot, [question], hits, 1)
        assert expected in best[0].text, (question, best[0].text)
