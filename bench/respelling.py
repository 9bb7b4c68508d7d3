"""What a rewrite of answers (names, terms or titles respelled from the passages) changes in
the answers of saved `ragqa eval` runs.

Such a rewrite is a function of the answer and the passages the model read (each row's
`passage_ids`, looked up in the index), so applying it to a run's English answers shows what
it would have changed there, no model call: each changed answer, and whether it was right
before and after. Shared by `bench.name_spelling`, `bench.term_spelling` and
`bench.title_spelling`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from bench.components import chunks_by_id
from bench.report import answer_rows, percentile, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from index.store import IndexStore
from ragqa.config import Settings
from ragqa.types import Language
from service.answer_language import in_wrong_language
from service.name_spelling import respell_names
from service.passages import Passage, SearchHit, to_passages

Rewrite = Callable[[str, Sequence[Passage], Language], str]


def as_written(answer: str, passages: Sequence[Passage], language: Language) -> str:
    """The answer as the run saved it: the `before` of a rewrite measured alone."""
    return answer


def names_respelled(answer: str, passages: Sequence[Passage], language: Language) -> str:
    """People's names respelled (`service.name_spelling`), as the claim check does first."""
    return respell_names(answer, passages)


def right(row: dict[str, Any], answer: str, facts: list[list[str]]) -> bool:
    """As `ragqa eval` scores an answered row: every fact, in the question's language."""
    return (
        bool(row["answerable"])
        and not missing_fact_groups(answer, facts)
        and not in_wrong_language(answer, str(row["language"]))
    )


def compare(
    runs: Sequence[Path],
    questions: Path,
    *,
    name: str,
    title: str,
    before: Rewrite,
    after: Rewrite,
    languages: Collection[str] = ("en",),
) -> None:
    """Apply `before` and `after` to every answer of the runs in `languages`; print and save
    (as bench/results/NAME-DATE.txt) each answer they write differently, and the totals."""
    facts = {item.id: item.answer_facts for item in load_items(questions, EvalItem)}
    store = IndexStore.open(Settings().index_dir.resolve(), expected=None)
    chunks = chunks_by_id(store.snapshot)
    shown = " ".join(str(shown_path(run)) for run in runs)
    report = [f"# {title} (`python -m bench.{name} {shown}`)", ""]
    totals = {"answers": 0, "changed": 0, "became right": 0, "became wrong": 0}
    seconds: list[float] = []  # each answer's rewrite (its passages' analysis cached after)
    for run in runs:
        gained: list[str] = []
        lost: list[str] = []
        for row in answer_rows(run):
            ids = row.get("passage_ids") or []
            if row["language"] not in languages or row["refused"] or not row["answer"]:
                continue
            if not ids or any(cid not in chunks for cid in ids):
                continue
            totals["answers"] += 1
            passages = to_passages([SearchHit(chunks[cid], 0.0) for cid in ids], store.snapshot)
            language = row["language"]
            was_text = before(row["answer"], passages, language)
            started = time.perf_counter()
            now_text = after(row["answer"], passages, language)
            seconds.append(time.perf_counter() - started)
            if now_text == was_text:
                continue
            totals["changed"] += 1
            wanted = facts.get(str(row["id"]), [])
            was, now = right(row, was_text, wanted), right(row, now_text, wanted)
            if now and not was:
                gained.append(row["id"])
            if was and not now:
                lost.append(row["id"])
            report += [
                f"- {shown_path(run)} {row['id']}: right {was} -> {now}",
                f"  before: {was_text!r}",
                f"  after:  {now_text!r}",
            ]
        totals["became right"] += len(gained)
        totals["became wrong"] += len(lost)
        report.append(f"{shown_path(run)}: became right {gained or 0}, became wrong {lost or 0}")
    report += ["", ", ".join(f"{k} {v}" for k, v in totals.items())]
    ms = [1000 * s for s in seconds[1:]]  # the first loads jieba's tagger (and dictionary)
    if ms:
        report.append(
            f"rewriting an answer: p50 {percentile(ms, 50):.2f} ms,"
            f" p99 {percentile(ms, 99):.2f} ms, max {max(ms):.2f} ms"
        )
    save_dated(name, "\n".join(report))
    print("\n".join(report))
