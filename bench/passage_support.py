"""`python -m bench.passage_support [--set FILE]`: would the model's support judgement, asked of
each retrieved passage alone, choose the passage that holds the answer?

For each question: retrieval as the answerer runs it, then the support prompt (`task=support`)
over each of the `context_k` passages alone. The report gives, for answerable questions, how
often the passage the model judges likeliest holds every answer fact, against the first by
retrieval rank, and what selections (every passage within a margin of the best) hold; and for
refusals, how the best single-passage support separates answerable from unanswerable questions
(AUC), beside the whole-context support. No answer is generated. Writes
bench/results/passage_support-DATE.txt and the per-question rows as JSON beside it.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import date
from functools import partial
from pathlib import Path
from typing import Annotated

import typer

from bench.report import REPO, RESULTS_DIR, answers_by_id, auc, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups, read_text
from ragqa.config import Settings
from service.answer import build_messages
from service.compose import build_answerer
from service.generation.base import yes_probability
from service.language import detect_language
from service.passages import to_passages

MARGINS = (0.0, 0.05, 0.1, 0.2)
THRESHOLDS = (0.55, 0.6, 0.65, 0.7, 0.72, 0.74, 0.76, 0.78, 0.8)


@dataclass(frozen=True)
class Row:
    """One question: its whole-context support, each passage's alone (in retrieval order),
    which passages hold every answer fact, and whether all of them together do."""

    id: str
    language: str
    type: str
    answerable: bool
    whole: float | None
    alone: list[float]
    holds: list[bool]
    together: bool


def main(
    set_path: Annotated[Path, typer.Option("--set", help="Evaluation set (JSONL).")] = REPO
    / "eval"
    / "sets"
    / "default.jsonl",
    limit: Annotated[int, typer.Option(help="Only the first N questions (0: all).")] = 0,
    run: Annotated[
        Path | None,
        typer.Option(help="A `ragqa eval` eval.json whose whole-context support to reuse."),
    ] = None,
    rows_path: Annotated[
        Path | None,
        typer.Option("--rows", help="Re-render the tables from a saved rows JSON (no model)."),
    ] = None,
) -> None:
    """Judge every passage alone, then print and write the tables."""
    if rows_path is not None:
        saved = [Row(**r) for r in json.loads(rows_path.read_text(encoding="utf-8"))]
        print(report(saved, f"--rows {shown_path(rows_path)}", 0.0))
        return
    items = list(load_items(set_path, EvalItem))
    if limit:
        items = items[:limit]
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    generator = answerer.generators[0]
    known = {k: v.get("support") for k, v in answers_by_id(run).items()} if run else {}
    rows: list[Row] = []
    started = time.perf_counter()
    try:
        for item in items:
            history = [turn.model_dump() for turn in item.history]
            language = detect_language(item.question)
            retrieval = answerer.retrieve(item.question, 12, history=history)
            hits, asked = retrieval.hits, retrieval.question or item.question
            passages = to_passages(hits[: settings.context_k], answerer.snapshot)
            if item.id in known:  # the same retrieval, so the same judgement
                whole = known[item.id]
            else:
                whole = yes_probability(
                    generator,
                    build_messages(asked, passages, language, task="support"),
                )
            alone: list[float] = []
            for passage in passages:  # shown alone, numbered [1]
                single = [replace(passage, n=1)]
                p = yes_probability(
                    generator,
                    build_messages(asked, single, language, task="support"),
                )
                alone.append(p if p is not None else 0.0)
            facts = item.answer_facts
            holds = [
                bool(facts) and not missing_fact_groups(read_text([p]), facts) for p in passages
            ]
            together = bool(facts) and not missing_fact_groups(read_text(passages), facts)
            rows.append(
                Row(
                    item.id, item.language, item.type, bool(item.answer_facts), whole, alone,
                    holds, together,
                )
            )  # fmt: skip
            print(item.id, whole, alone, holds, together, flush=True)
    finally:
        answerer.close()
    seconds = time.perf_counter() - started
    command = f"--set {shown_path(set_path)}" + (f" --run {shown_path(run)}" if run else "")
    text = report(rows, command, seconds)
    print(text)
    save_dated("passage_support", text)
    out = RESULTS_DIR / f"passage_support-{date.today()}.json"
    out.write_text(
        json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=1), encoding="utf-8"
    )


def within(margin: float, row: Row) -> list[int]:
    """The passages judged alone within `margin` of the best one."""
    return [i for i, p in enumerate(row.alone) if p >= max(row.alone) - margin]


def report(rows: list[Row], command: str, seconds: float) -> str:
    """The tables: choosing passages by single-passage support, and refusing by it."""
    answerable = [r for r in rows if r.answerable]
    lines = [
        f"# Support per passage, measured {date.today()} "
        f"(`python -m bench.passage_support {command}`), "
        f"{len(rows)} questions, {len(answerable)} answerable, {seconds / 60:.0f} min",
        "",
        "| read | holds every fact (answerable) | English | passages read (mean) |",
        "|---|---|---|---|",
    ]

    def row(name: str, pick: Callable[[Row], list[int]]) -> str:
        found, english, count = [], [], []
        for r in answerable:
            chosen = pick(r)
            ok = any(r.holds[i] for i in chosen) or (len(chosen) == len(r.holds) and r.together)
            found.append(ok)
            count.append(len(chosen))
            if r.language == "en":
                english.append(ok)
        return (
            f"| {name} | {sum(found) / len(found):.3f} | {sum(english) / max(1, len(english)):.3f}"
            f" | {statistics.mean(count):.2f} |"
        )

    lines.append(row("all passages (today)", lambda r: list(range(len(r.holds)))))
    lines.append(row("first by retrieval", lambda r: [0]))
    for margin in MARGINS:
        lines.append(row(f"judged within {margin:g} of the best", partial(within, margin)))
    good = [r for r in rows if r.answerable]
    bad = [r for r in rows if not r.answerable]
    whole_auc = auc([r.whole or 0 for r in good], [r.whole or 0 for r in bad])
    alone_auc = auc([max(r.alone) for r in good], [max(r.alone) for r in bad])
    lines += [
        "",
        "Note: a selection of several passages counts only a fact set held by one passage alone,",
        "except the whole set, which counts the facts across its passages.",
        "",
        "| refusal signal | AUC (answerable above unanswerable) |",
        "|---|---|",
        f"| whole-context support | {whole_auc:.3f} |",
        f"| best single-passage support | {alone_auc:.3f} |",
        "",
        "| refuse below | best passage alone: answerable / unanswerable refused |"
        " whole context: answerable / unanswerable refused |",
        "|---|---|---|",
    ]
    for t in THRESHOLDS:
        alone = [sum(max(r.alone) < t for r in group) for group in (good, bad)]
        whole = [sum((r.whole or 0) < t for r in group) for group in (good, bad)]
        lines.append(
            f"| {t:.2f} | {alone[0]} of {len(good)} / {alone[1]} of {len(bad)} |"
            f" {whole[0]} / {whole[1]} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    typer.run(main)
