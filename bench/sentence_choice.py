"""`python -m bench.sentence_choice [--set FILE]`: the model's own judgement of which retrieved
sentence states the answer (issue 16, evidence first), against the dense + lexical score alone.

For every question of the set: retrieval as the answerer runs it, the evidence selector's best
`judged` sentences shown to the model numbered, and its probabilities of naming each (or 0,
none) read from one prefill. Reported: the share of answerable questions whose answer facts all
lie in the excerpts chosen with and without the judgement (at several weights), and how well
the probability of "none" tells unanswerable questions from answerable ones. Writes
bench/results/sentence_choice-DATE.txt.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import date
from itertools import product
from pathlib import Path
from typing import Annotated

import typer

from bench.evidence import MemoEmbedder, facts_row
from bench.report import REPO, auc, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups, read_text
from ragqa.config import Settings
from service.compose import build_answerer
from service.evidence import EvidenceOptions, EvidenceSelector
from service.sentence_choice import MAX_SENTENCES, choose_sentence

# (sentences, neighbours, max_chars): the evidence-first forms measured before (README).
FORMS = ((1, 0, 900), (1, 1, 900), (4, 1, 900), (6, 1, 1200), (8, 0, 900))
WEIGHTS = (0.0, 0.3, 1.0, 3.0)
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def main(
    set_path: Annotated[Path, typer.Option("--set", help="Evaluation set (JSONL).")] = REPO
    / "eval"
    / "sets"
    / "default.jsonl",
    rows_path: Annotated[
        Path | None,
        typer.Option("--rows", help="Also write each question's judgement here (JSON)."),
    ] = None,
    judgement_only: Annotated[
        bool, typer.Option(help="Only the judgement of the first form, no excerpt table.")
    ] = False,
) -> None:
    """Print and write the tables."""
    items = load_items(set_path, EvalItem)
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.engine is not None:
        answerer.engine.wait_ready(settings.engine_start_timeout_s)
    generator = answerer.generators[0]
    snapshot = answerer.snapshot
    embedder = MemoEmbedder(answerer.embedder)
    found: dict[str, list[tuple[str, bool, int]]] = {}
    none: list[tuple[bool, float]] = []  # (answerable, p(none))
    seconds: list[float] = []
    memo: dict[tuple[str, ...], tuple[list[float], float] | None] = {}
    judged: list[dict[str, object]] = []

    def judge(question: str, sentences: Sequence[str]) -> tuple[list[float], float] | None:
        """The model's choice, asked once per question and sentences for every form."""
        key = (question, *sentences)
        if key not in memo:
            started = time.perf_counter()
            memo[key] = choose_sentence(generator, question, sentences)
            seconds.append(time.perf_counter() - started)
        return memo[key]

    base = replace(EvidenceOptions.from_settings(settings), judged=MAX_SENTENCES)
    forms = FORMS[:1] if judgement_only else FORMS
    weights = WEIGHTS[:1] if judgement_only else WEIGHTS
    try:
        for item in items:
            history = [turn.model_dump() for turn in item.history]
            retrieval = answerer.retrieve(item.question, 12, history=history)
            queries = list(dict.fromkeys([item.question, *retrieval.queries]))
            hits = retrieval.hits[: settings.evidence_candidates]
            for (sentences, neighbours, max_chars), weight in product(forms, weights):
                options = replace(
                    base,
                    sentences=sentences,
                    neighbours=neighbours,
                    max_chars=max_chars,
                    judge_weight=weight,
                )
                evidence = EvidenceSelector(embedder, options, judge).select(
                    snapshot, queries, hits
                )
                first = (sentences, neighbours, max_chars) == FORMS[0] and weight == WEIGHTS[0]
                if first and evidence.none is not None:
                    none.append((bool(item.answer_facts), evidence.none))
                    judged.append({"id": item.id, "none": round(evidence.none, 4)})
                if not item.answer_facts:
                    continue
                text = read_text(evidence.hits)
                ok = not missing_fact_groups(text, item.answer_facts)
                chars = sum(len(h.text) for h in evidence.hits)
                name = f"{sentences} sentences ±{neighbours}, {max_chars} chars"
                found.setdefault(f"{name} | {weight:g}", []).append((item.language, ok, chars))
    finally:
        answerer.close()
    answerable = [p for a, p in none if a]
    unanswerable = [p for a, p in none if not a]
    n_answerable = len([i for i in items if i.answer_facts])
    lines = [
        f"# The model's choice of the sentence that states the answer, measured {date.today()} "
        f"(`python -m bench.sentence_choice --set {shown_path(set_path)}`)",
        "",
        f"{len(items)} questions, {n_answerable} answerable; the {MAX_SENTENCES} best-scored "
        f"sentences of the {settings.evidence_candidates} best passages judged in one prefill, "
        f"{statistics.median(seconds):.1f} s median ({max(seconds):.1f} s at most).",
        "",
        "## Answer facts in the chosen excerpts (weight 0: the dense + lexical score alone)",
        "",
        "| excerpts | judgement weight | all facts in them | by language "
        f"({' / '.join(sorted({i.language for i in items if i.answer_facts}))}) | median chars |",
        "|---|---|---|---|---|",
        *(facts_row(name, rows) for name, rows in found.items()),
    ]
    lines += [
        "",
        f"## The probability of 0 (none states it): {len(answerable)} answerable, "
        f"{len(unanswerable)} unanswerable questions judged",
        "",
        f"AUC (unanswerable above answerable): {auc(unanswerable, answerable):.3f}",
        "",
        "| threshold | unanswerable at or above | answerable at or above |",
        "|---|---|---|",
        *(
            f"| {t} | {sum(p >= t for p in unanswerable)} of {len(unanswerable)} | "
            f"{sum(p >= t for p in answerable)} of {len(answerable)} |"
            for t in THRESHOLDS
        ),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if rows_path is not None:
        rows_path.write_text(json.dumps(judged, indent=1), "utf-8")
    if not judgement_only:
        save_dated("sentence_choice", text)


if __name__ == "__main__":
    typer.run(main)
