"""bench.passage_support's tables: which passages a margin keeps, whether they hold the facts,
and the refusals each support signal would make."""

from __future__ import annotations

from bench.passage_support import Row, report, within


def row(id: str, alone: list[float], holds: list[bool], whole: float = 0.8) -> Row:
    answerable = any(holds)
    return Row(id, "en", "fact", answerable, whole, alone, holds, answerable)


def test_a_margin_keeps_every_passage_within_it_of_the_best() -> None:
    r = row("a", [0.6, 0.9, 0.85, 0.79], [False, True, False, False])
    assert within(0.0, r) == [1]
    assert within(0.1, r) == [1, 2]
    assert within(0.2, r) == [1, 2, 3]


def test_the_judged_best_passage_is_scored_by_the_facts_it_holds() -> None:
    rows = [
        row("a", [0.6, 0.9], [False, True]),  # judged best holds the facts, rank 1 does not
        row("b", [0.9, 0.5], [True, False]),  # both choose the first
        row("c", [0.5, 0.7], [False, False], whole=0.4),  # unanswerable
    ]
    text = report(rows, "--set set.jsonl", 60)
    assert "| first by retrieval | 0.500 |" in text
    assert "| judged within 0 of the best | 1.000 |" in text
    assert "| best single-passage support | 1.000 |" in text  # 0.9, 0.9 above 0.7
    # Below 0.72 the best single passage refuses only "c"; the whole context refuses "c" too.
    assert "| 0.72 | 0 of 2 / 1 of 1 | 0 / 1 |" in text
    assert "| 0.80 | 0 of 2 / 1 of 1 | 0 / 1 |" in text
