"""bench.none_refusal's count of what refusing on "none" would add to a run's refusals."""

from __future__ import annotations

from bench.none_refusal import added_refusals


def test_only_questions_the_run_did_not_refuse_count_and_right_answers_are_told_apart() -> None:
    rows: dict[str, dict[str, object]] = {
        "a": {"answerable": True, "correct": True, "refused": False},
        "b": {"answerable": True, "correct": False, "refused": False},
        "c": {"answerable": False, "correct": None, "refused": False},
        "d": {"answerable": False, "correct": None, "refused": True},
        "e": {"answerable": True, "correct": True, "refused": False},
    }
    none = {"a": 0.4, "b": 0.3, "c": 0.35, "d": 0.9, "e": 0.1}
    assert added_refusals(none, rows, 0.3) == (2, 1, 1)
    assert added_refusals(none, rows, 0.36) == (1, 1, 0)
    assert added_refusals(none, rows, 0.95) == (0, 0, 0)
