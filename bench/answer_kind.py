"""`python -m bench.answer_kind RUN/eval.json ...`: what the expected-answer-kind check
(`service.answer_kind`) refuses among the answers of saved `ragqa eval` runs, no model call.

The check is a pure function of the question and the answer, so applying it to the answers a
run gave shows what it would have changed in that run: unanswerable questions refused
besides, and answerable ones, told apart by whether the answer was right. A run made with the
check in place shows nothing more to refuse. Also printed, for comparison, a "who" kind that
is not built: jieba's person-name tag (or, in English, a capitalised word the question lacks)
required in the answer to a question asking who. Writes bench/results/answer_kind-DATE.txt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import typer

from bench.report import Runs, answer_rows, save_dated, shown_path
from index.textnorm import pos_tagged, script_counts
from service.answer_kind import answers_kind, capitalised_names

_WHO = re.compile(r"谁|誰|\bwho(?:m|se)?\b|哪[一]?位", re.IGNORECASE)


def _persons(text: str) -> set[str]:
    """Person names as the "who" variant finds them."""
    if not script_counts(text)[0]:
        return capitalised_names(text)
    return {word for word, flag in pos_tagged(text) if flag == "nr"}


def names_a_person(question: str, answer: str) -> bool:
    """The "who" variant: a question asking who is answered only by a name it lacks."""
    return not _WHO.search(question) or bool(_persons(answer) - _persons(question))


def would_refuse(
    rows: Sequence[dict[str, Any]], check: Callable[[str, str], bool]
) -> dict[str, list[str]]:
    """Ids of the answers a run gave that `check` rejects, as "unanswerable", "wrong" (an
    answerable question answered wrongly) and "right"."""
    out: dict[str, list[str]] = {"unanswerable": [], "wrong": [], "right": []}
    for row in rows:
        if row["refused"] or not row["answer"] or check(row["question"], row["answer"]):
            continue
        group = "unanswerable" if not row["answerable"] else "right" if row["correct"] else "wrong"
        out[group].append(row["id"])
    return out


CHECKS: dict[str, Callable[[str, str], bool]] = {
    "quantity/time/place": answers_kind,
    "who (not built)": names_a_person,
}


def _cell(ids: list[str]) -> str:
    return f"{len(ids)} ({', '.join(ids)})" if ids else "0"


def main(
    runs: Runs,
) -> None:
    """Print and write the table."""
    shown = " ".join(str(shown_path(run)) for run in runs)
    lines = [
        f"# The expected answer kind on saved runs (`python -m bench.answer_kind {shown}`)",
        "",
        "| run | check | unanswerable answered | refused besides: unanswerable | "
        "answerable, wrong | answerable, right |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs:
        rows = answer_rows(run)
        answered = sum(1 for r in rows if not r["answerable"] and not r["refused"])
        for name, check in (
            ("quantity/time/place", answers_kind),
            ("who (not built)", names_a_person),
        ):
            refused = would_refuse(rows, check)
            lines.append(
                f"| {run.parent.name} | {name} | {answered} | {_cell(refused['unanswerable'])} | "
                f"{_cell(refused['wrong'])} | {_cell(refused['right'])} |"
            )
    text = "\n".join([*lines, ""])
    print(text)
    save_dated("answer_kind", text)


if __name__ == "__main__":
    typer.run(main)
