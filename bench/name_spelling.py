"""`python -m bench.name_spelling RUN/eval.json ...`: what respelling people's names in
English answers (`service.name_spelling`) changes in the answers of saved `ragqa eval` runs.

Respelling is a function of the answer and the passages the model read (each row's
`passage_ids`, looked up in the index), so applying it to a run's English answers shows what
it would have changed there, no model call: each changed answer, and whether it was right
before and after. Writes bench/results/name_spelling-DATE.txt.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.components import chunks_by_id
from bench.report import REPO, answer_rows, percentile, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from index.store import IndexStore
from ragqa.config import Settings
from service.answer_language import in_wrong_language
from service.name_spelling import respell_names
from service.passages import SearchHit, to_passages


def right(row: dict[str, Any], answer: str, facts: list[list[str]]) -> bool:
    """As `ragqa eval` scores an answered row: every fact, in the question's language."""
    return (
        bool(row["answerable"])
        and not missing_fact_groups(answer, facts)
        and not in_wrong_language(answer, str(row["language"]))
    )


def main(
    runs: Annotated[list[Path], typer.Argument(help="eval.json files of `ragqa eval` runs.")],
    questions: Annotated[Path, typer.Option("--set", help="The set the runs answered.")] = (
        REPO / "eval" / "sets" / "default.jsonl"
    ),
) -> None:
    """Respell the names of every English answer of the runs; print what changed."""
    facts = {item.id: item.answer_facts for item in load_items(questions, EvalItem)}
    store = IndexStore.open(Settings().index_dir.resolve(), expected=None)
    chunks = chunks_by_id(store.snapshot)
    shown = " ".join(str(shown_path(run)) for run in runs)
    report = [f"# Names respelled in English answers (`python -m bench.name_spelling {shown}`)", ""]
    totals = {"answers": 0, "changed": 0, "became right": 0, "became wrong": 0}
    seconds: list[float] = []  # each answer's respelling (its passages' names cached after)
    for run in runs:
        gained: list[str] = []
        lost: list[str] = []
        for row in answer_rows(run):
            ids = row.get("passage_ids") or []
            if row["language"] != "en" or row["refused"] or not row["answer"]:
                continue
            if not ids or any(cid not in chunks for cid in ids):
                continue
            totals["answers"] += 1
            passages = to_passages([SearchHit(chunks[cid], 0.0) for cid in ids], store.snapshot)
            started = time.perf_counter()
            after = respell_names(row["answer"], passages)
            seconds.append(time.perf_counter() - started)
            if after == row["answer"]:
                continue
            totals["changed"] += 1
            wanted = facts.get(str(row["id"]), [])
            was, now = right(row, row["answer"], wanted), right(row, after, wanted)
            if now and not was:
                gained.append(row["id"])
            if was and not now:
                lost.append(row["id"])
            report += [
                f"- {shown_path(run)} {row['id']}: right {was} -> {now}",
                f"  before: {row['answer']!r}",
                f"  after:  {after!r}",
            ]
        totals["became right"] += len(gained)
        totals["became wrong"] += len(lost)
        report.append(f"{shown_path(run)}: became right {gained or 0}, became wrong {lost or 0}")
    report += ["", ", ".join(f"{k} {v}" for k, v in totals.items())]
    ms = [1000 * s for s in seconds[1:]]  # the first loads jieba's tagger
    if ms:
        report.append(
            f"respelling an answer: p50 {percentile(ms, 50):.2f} ms,"
            f" p99 {percentile(ms, 99):.2f} ms, max {max(ms):.2f} ms"
        )
    save_dated("name_spelling", "\n".join(report))
    print("\n".join(report))


if __name__ == "__main__":
    typer.run(main)
