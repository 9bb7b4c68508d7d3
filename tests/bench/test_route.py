"""bench.route's pure parts: which run's answer is taken, and what counts as refused."""

from __future__ import annotations

from bench.route import figures, refused, routed


def row(i: str, support: float | None, *, answerable: bool = True, correct: bool = True,
        was_refused: bool = False) -> dict[str, object]:  # fmt: skip
    return {"id": i, "support": support, "answerable": answerable, "correct": correct,
            "refused": was_refused}  # fmt: skip


def test_the_row_with_the_higher_support_is_taken_the_first_on_a_tie_or_none() -> None:
    a, b = row("q1", 0.6), row("q1", 0.8)
    assert routed(a, b) is b
    assert routed(b, a) is b
    assert routed(a, row("q1", 0.6)) is a
    assert routed(a, row("q1", None)) is a


def test_a_row_below_the_threshold_counts_as_refused_even_when_it_answered() -> None:
    assert refused(row("q1", 0.5), 0.55)
    assert not refused(row("q1", 0.6), 0.55)
    assert refused(row("q1", None, was_refused=True), 0.55)


def test_figures_count_right_answers_and_refusals_of_each_kind() -> None:
    rows = {
        "q1": row("q1", 0.9),
        "q2": row("q2", 0.4),
        "q3": row("q3", 0.9, correct=False),
        "q4": row("q4", 0.3, answerable=False, correct=False),
        "q5": row("q5", 0.9, answerable=False, correct=False),
    }
    assert figures(rows, 0.55) == "right 1/3, answerable refused 1, unanswerable refused 1/2"
