"""Answering document by document: which passages each part reads, how the parts combine, and
when the answerer takes that path.

Fast tier: plain data and fake models over the real store and retriever.
"""

from __future__ import annotations

from pathlib import Path

from index.documents import Chunk
from service.answer import CitedAnswer, postprocess, refusal
from service.answering import DoneEvent, PassagesEvent
from service.generation import ChatMessage
from service.passages import SearchHit, to_passages
from service.per_document import Part, combine, document_groups
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, cite_first_passage, make_settings

QUESTION = "李林教授出席了哪两次会议？分别在哪个城市举行？"


def hit(doc: str, n: int, text: str = "", score: float = 1.0) -> SearchHit:
    text = text or f"{doc} passage {n}."
    return SearchHit(Chunk(f"{doc}#{n}", doc, n, text, 0, len(text), title=doc), score)


def test_groups_keep_each_documents_best_hits_in_ranking_order() -> None:
    hits = [hit("a", 0), hit("b", 0), hit("a", 1), hit("a", 2), hit("c", 0), hit("d", 0)]
    groups = document_groups(hits, max_documents=3, per_document=2)
    assert [[h.chunk_id for h in g] for g in groups] == [["a#0", "a#1"], ["b#0"], ["c#0"]]


def _part(doc: str, answer: str) -> Part:
    passages = to_passages([hit(doc, 0, f"{doc} 在成都举行。"), hit(doc, 1, f"{doc} 有200人。")])
    return Part(passages, postprocess(answer, passages, "zh-Hans"), answer)


def test_parts_combine_with_citations_renumbered_across_documents() -> None:
    first = _part("a", "a 在成都举行[1]。")
    unwritten = Part(to_passages([hit("b", 0)]), None, support=0.1)
    second = _part("c", "c 有200人[2]。")
    cited, passages = combine([first, unwritten, second], "zh-Hans")
    assert not cited.refused
    assert cited.answer == "a 在成都举行[1]。\nc 有200人[2]。"
    # Every passage the model read is listed once, numbered in order.
    assert [(p.n, p.chunk_id) for p in passages] == [
        (1, "a#0"), (2, "a#1"), (3, "b#0"), (4, "c#0"), (5, "c#1"),
    ]  # fmt: skip
    assert [(c.n, c.chunk_id) for c in cited.citations] == [(1, "a#0"), (2, "c#1")]
    assert [c.passage.n for c in cited.citations] == [1, 5]  # the listed passages themselves


def test_no_part_answered_is_the_refusal() -> None:
    refused = Part(to_passages([hit("a", 0)]), CitedAnswer(refusal("en"), True, []), refusal("en"))
    cited, passages = combine([refused, Part(to_passages([hit("b", 0)]), None)], "en")
    assert cited.refused and cited.answer == refusal("en") and len(passages) == 2


def _several_answerer(tmp: Path, several: float, support: float = 0.9, **settings: object):
    answerer = build_fake_answerer(
        make_settings(tmp, support_threshold=0.5, per_document_threshold=0.5, **settings)
    )
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    fake.several = lambda _: several
    fake.support = lambda _: support
    # Each part names a city, as QUESTION asks where (an answer naming none is refused).
    fake.reply = lambda messages: cite_first_passage(messages).replace(" [1]", "，在太原 [1]")
    return answerer, fake


def test_a_question_judged_about_several_events_is_answered_per_document(tmp_path: Path) -> None:
    answerer, fake = _several_answerer(tmp_path, several=0.8, per_document_max=3)
    events = list(answerer.ask_events(QUESTION))
    result = events[-1].result if isinstance(events[-1], DoneEvent) else None
    assert result is not None and result.several == 0.8
    assert result.completion_tokens > 0 and result.prompt_tokens > 0  # every part's, summed
    # One call per document, each reading only that document's passages, with the part task.
    assert 2 <= len(fake.calls) <= 3
    for call in fake.calls:
        assert "only the part of the question this document answers" in call[-1]["content"]
        assert len({p.doc_id for p in result.passages if p.text[:20] in call[-1]["content"]}) == 1
    # The answer cites passages of several documents (a part the checks drop cites nothing),
    # each one a passage shown; the passages shown are the ones read.
    assert len({c.doc_id for c in result.citations}) >= 2
    assert all(result.passages[c.passage.n - 1] == c.passage for c in result.citations)
    assert [c.n for c in result.citations] == list(range(1, len(result.citations) + 1))
    assert len(result.answer.splitlines()) == len(result.citations)  # a line per part
    shown = [e.passages for e in events if isinstance(e, PassagesEvent)]
    assert len(shown) == 2 and shown[-1] == result.passages
    assert [p.n for p in result.passages] == list(range(1, len(result.passages) + 1))


def test_below_the_threshold_one_answer_is_written_from_all_passages(tmp_path: Path) -> None:
    # With named_documents off, every passage found is read, also those of reports never
    # naming 李林, whom QUESTION names.
    answerer, fake = _several_answerer(tmp_path, several=0.3, named_documents=False)
    result = answerer.ask(QUESTION)
    assert result.several == 0.3 and len(fake.calls) == 1
    whole = [p for p in result.passages if p.chunk_id.rpartition("#")[2].isdigit()]
    assert len(whole) == answerer.settings.context_k
    assert "only the part" not in fake.calls[0][-1]["content"]


def test_a_document_judged_not_to_answer_is_passed_over_unwritten(tmp_path: Path) -> None:
    answerer, fake = _several_answerer(tmp_path, several=0.9)
    judged: list[str] = []

    def support(messages: list[ChatMessage]) -> float:
        judged.append(messages[-1]["content"])
        return 0.9 if len(judged) == 1 else 0.1  # only the first document answers

    fake.support = support
    result = answerer.ask(QUESTION)
    assert len(judged) >= 2 and len(fake.calls) == 1
    # The one part written read the first document's passages, judged as they were.
    written = fake.calls[0][-1]["content"]
    assert written.split("\n\n")[0] == judged[0].split("\n\n")[0]
    assert {c.doc_id for c in result.citations} <= {result.passages[0].doc_id}


def test_unset_no_several_judgement_is_asked(tmp_path: Path) -> None:
    answerer = build_fake_answerer(
        make_settings(tmp_path, support_threshold=0.5, per_document_threshold=None)
    )
    fake = answerer.generators[0]
    assert isinstance(fake, FakeGenerator)
    fake.support = lambda _: 0.9
    fake.several = lambda _: 1.0
    result = answerer.ask(QUESTION)
    assert result.several is None and len(fake.calls) == 1 and len(fake.scored) == 1


def test_a_part_that_loops_is_cut_at_its_second_copy(tmp_path: Path) -> None:
    answerer, fake = _several_answerer(tmp_path, several=0.8, per_document_max=2)
    unit = "太原第一医院、 太原第二医院、 "
    looping = "会议在太原举行 [1]， 来宾来自 " + unit * 30
    fake.reply = lambda messages: looping
    result = answerer.ask(QUESTION)
    assert result.answer.count("太原第二医院") <= len(result.citations)  # once a part at most
    # Each part stopped at its loop's second copy, not at the token limit.
    assert result.completion_tokens < len(fake.calls) * len(looping.split(" ")) // 2
