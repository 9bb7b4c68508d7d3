"""The order the model reads its passages in (`passage_order`): ranked, best last, or by
document. Fast tier: plain hits, and the real answerer over the corpus with a fake model."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from index.documents import Chunk
from ragqa.config import Settings
from service.passages import SearchHit, reading_order
from tests.fakes import FakeGenerator
from tests.service.conftest import build_fake_answerer, make_settings

QUESTION = "四川省医学会第二十一次核医学学术会议在哪里召开？"


def hit(doc: str, n: int, start: int, score: float) -> SearchHit:
    text = f"{doc} passage {n}."
    return SearchHit(Chunk(f"{doc}#{n}", doc, n, text, start, start + len(text), title=doc), score)


HITS = [hit("a", 5, 500, 0.9), hit("b", 1, 100, 0.8), hit("a", 2, 200, 0.7), hit("c", 0, 0, 0.6)]


def ids(hits: list[SearchHit]) -> list[str]:
    return [h.chunk_id for h in hits]


def test_ranked_keeps_the_retrieval_order() -> None:
    assert ids(reading_order(HITS, "ranked")) == ["a#5", "b#1", "a#2", "c#0"]


def test_best_last_puts_the_best_hit_next_to_the_question() -> None:
    assert ids(reading_order(HITS, "best_last")) == ["c#0", "a#2", "b#1", "a#5"]


def test_document_order_groups_a_documents_hits_in_its_own_order() -> None:
    # a's best hit ranks first, so a comes first, its passages by their place in the text.
    assert ids(reading_order(HITS, "document")) == ["a#2", "a#5", "b#1", "c#0"]


def test_an_unknown_order_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="ranked, best_last, document"):
        reading_order(HITS, "random")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="best_last"):
        Settings(passage_order="random")  # type: ignore[arg-type]


@pytest.mark.parametrize("order", ["ranked", "best_last"])
def test_the_prompt_numbers_passages_in_reading_order(tmp_path: Path, order: str) -> None:
    """The model reads [1]..[k] top to bottom, and the answer's passages carry those numbers:
    with `best_last` the best-scored passage is the last one, next to the question (whole
    passages only: a leading sentence would come first in either order)."""
    answerer = build_fake_answerer(make_settings(tmp_path, passage_order=order, evidence_lead=0))
    result = answerer.ask(QUESTION)
    scores = [p.hit.score for p in result.passages]
    assert [p.n for p in result.passages] == list(range(1, len(scores) + 1))
    expected = sorted(scores, reverse=order == "ranked")
    assert scores == expected and len(set(scores)) > 1
    generator = answerer.generators[0]
    assert isinstance(generator, FakeGenerator)
    prompt = generator.calls[-1][-1]["content"]
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\]", prompt, flags=re.M)]
    assert numbers == [p.n for p in result.passages]
    best = result.passages[-1 if order == "best_last" else 0]
    assert best.text[:20] in prompt.split(f"[{best.n}]", 1)[1]
