"""bench.report's file helpers for one-off studies: dated reports and eval answer rows."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path

from bench.report import REPO, answer_rows, answers_by_id, auc, save_dated, shown_path


def test_a_dated_report_is_written_once_per_day_and_ends_with_a_newline(tmp_path: Path) -> None:
    path = save_dated("study", "line one", tmp_path / "results")
    assert path == tmp_path / "results" / f"study-{date.today().isoformat()}.txt"
    assert path.read_text(encoding="utf-8") == "line one\n"
    save_dated("study", "again\n", tmp_path / "results")
    assert path.read_text(encoding="utf-8") == "again\n"


def test_answer_rows_are_the_eval_runs_answer_rows_in_order(tmp_path: Path) -> None:
    run = tmp_path / "eval.json"
    rows = [{"id": "q2", "answer": "二"}, {"id": "q1", "answer": "one"}]
    run.write_text(json.dumps({"rows": {"answer": rows, "search": []}}), encoding="utf-8")
    assert answer_rows(run) == rows
    assert answers_by_id(run) == {"q2": rows[0], "q1": rows[1]}


def test_auc_is_the_share_of_right_wrong_pairs_ranked_right_ties_half() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    assert auc([0.5, 0.9], [0.5]) == 0.75
    assert math.isnan(auc([], [0.3]))


def test_the_set_is_shown_relative_to_the_repository_when_inside_it() -> None:
    assert shown_path(REPO / "eval" / "sets" / "default.jsonl") == Path("eval/sets/default.jsonl")
    assert shown_path(Path("/elsewhere/set.jsonl")) == Path("/elsewhere/set.jsonl")
