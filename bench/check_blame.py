"""`python -m bench.check_blame --set SET RUN/eval.json ...`: which answer check refused each
answer the model wrote, and whether the answer would have been right without it.

Each refused row's raw model text is checked again (`service.answer.postprocess`) over the
passages it read, with one check switched off at a time; a check is named when switching it
off alone lets the answer through, with the answer then scored as `ragqa eval` scores it. A
check that frees right answers costs accuracy; one that frees only wrong answers earns its
refusals. Rows the replay does not refuse (a retold answer) or whose passages are not in this
index are skipped. Writes bench/results/check-blame[-<set>]-DATE.txt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any
from unittest import mock

import typer

from bench.check_replay import CHECKS, CheckName, read_passages
from bench.components import chunks_by_id
from bench.report import DEFAULT_SET, Runs, RunsSet, answer_rows, save_dated, shown_path
from bench.respelling import right
from eval.items import EvalItem, load_items
from index.store import IndexStore
from ragqa.config import Settings
from service import answer, answer_guard, claims
from service.answer import postprocess
from service.passages import Passage


def _replayed(check: CheckName) -> tuple[Any, str, Callable[..., Any]]:
    """A check `bench.check_replay` already switches off, as it does."""
    found = CHECKS[check]
    return found.module, found.attribute, found.off


# Each check by name: the module attribute that applies it, and what switches it off.
SWITCHES: dict[str, tuple[Any, str, Callable[..., Any]]] = {
    "number found in no passage": (claims, "_is_grounded", lambda *_: True),
    "only markers": (claims, "_is_hollow", lambda *_: False),
    "says the question back": _replayed(CheckName.restated),
    "another edition": _replayed(CheckName.editions),
    "person no passage names": _replayed(CheckName.invented),
    "name no passage naming them states": _replayed(CheckName.unsupported),
    "title no passage gives": _replayed(CheckName.roles),
    "echoes an instruction": (claims, "_echoes_instructions", lambda *_: False),
    "answer guard": (answer_guard, "failed_checks", lambda *_: []),
    "claim unsupported by its passage": (claims, "_check_claim", lambda c, *_: c),
    "numbers cited": (claims, "_cite_its_numbers", lambda c, *_: c),
    "person cited": (claims, "_cite_its_people", lambda c, *_: c),
    "answer kind": (answer, "answers_kind", lambda *_: True),
}


def blame(
    row: dict[str, Any], passages: Sequence[Passage], facts: list[list[str]]
) -> list[tuple[str, str]] | None:
    """For a refused row, each check whose switching off alone lets its answer through, with
    that answer's score ("right", "wrong", or "answered" for an unanswerable question); None
    when the replay does not refuse it."""
    args = (row["model_text"], passages, row["language"], row["question"])
    if not postprocess(*args).refused:
        return None
    found = []
    for name, (module, attribute, off) in SWITCHES.items():
        with mock.patch.object(module, attribute, off):
            freed = postprocess(*args)
        if not freed.refused:
            if not row["answerable"]:
                found.append((name, "answered"))
            else:
                found.append((name, "right" if right(row, freed.answer, facts) else "wrong"))
    return found


def main(runs: Runs, questions: RunsSet = DEFAULT_SET) -> None:
    """Name the check behind each refused answer of the runs, and what it refused."""
    facts = {item.id: item.answer_facts for item in load_items(questions, EvalItem)}
    view = IndexStore.open(Settings().index_dir.resolve(), expected=None).snapshot
    chunks = chunks_by_id(view)
    shown = " ".join(str(shown_path(run)) for run in runs)
    report = [
        f"# Checks behind refused answers (`python -m bench.check_blame --set "
        f"{shown_path(questions)} {shown}`)"
    ]
    tally: Counter[tuple[str, str]] = Counter()
    for run in runs:
        for row in answer_rows(run):
            if not row["refused"] or not row.get("model_text"):
                continue
            passages = read_passages(row, chunks, view)
            if passages is None:  # a run of another index
                continue
            found = blame(row, passages, facts.get(str(row["id"]), []))
            if found is None:
                continue
            tally.update(found)
            named = ", ".join(f"{name}: {state}" for name, state in found) or "no single check"
            report.append(f"- {shown_path(run)} {row['id']}: {named}")
    report += ["", "check: answers it alone refused, by what they would have been"]
    report += [f"{name}: {state} {count}" for (name, state), count in sorted(tally.items())]
    other_set = "" if questions == DEFAULT_SET else f"-{questions.stem}"
    save_dated(f"check-blame{other_set}", "\n".join(report))
    typer.echo("\n".join(report))


if __name__ == "__main__":
    typer.run(main)
