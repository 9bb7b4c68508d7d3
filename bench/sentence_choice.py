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
from pathlib import Path
from typing import Annotated

import typer

from bench.report import save_dated
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from ragqa.config import Settings
from service.compose import build_answerer
from service.evidence import EvidenceOptions, EvidenceSelector
from service.sentence_choice import MAX_SENTENCES, choose_sentence

REPO = Path(__file__).resolve().parents[1]
# (sentences, neighbours, max_chars): the evidence-first forms measured before (README).
FORMS = ((1, 0, 900), (1, 1, 900), (4, 1, 900), (6, 1, 1200), (8, 0, 900))
WEIGHTS = (0.0, 0.3, 1.0, 3.0)
THRESHOLDS = (0.3, 0.5, 0.7, 0.9)


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def _shown(path: Path) -> Path:
    """The set's path as typed in the repository, when it lies in it."""
    return path.resolve().relative_to(REPO) if path.resolve().is_relative_to(REPO) else path


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
    found: dict[str, list[tuple[str, bool, int]]] = {}
    none: list[tuple[bool, float]] = []  # (answerable, p(none))
    seconds: list[float] = []
    memo: dict[tuple[str, ...], tuple[list[float], float] | None] = {}
    judged: list[dict[str, object]] = []
    try:
        for item in items:
            history = [turn.model_dump() for turn in item.history]
            retrieval = answerer.retrieve(item.question, 12, history=history)
            queries = list(dict.fromkeys([item.question, *retrieval.queries]))
            hits = retrieval.hits[: settings.evidence_candidates]

            def judge(question: str, sentences: Sequence[str]) -> tuple[list[float], float] | None:
                key = (question, *sentences)
                if key not in memo:
                    started = time.perf_counter()
                    memo[key] = choose_sentence(generator, question, sentences)
                    seconds.append(time.perf_counter() - started)
                return memo[key]

            base = replace(EvidenceOptions.from_settings(settings), judged=MAX_SENTENCES)
            for sentences, neighbours, max_chars in FORMS[:1] if judgement_only else FORMS:
                for weight in WEIGHTS[:1] if judgement_only else WEIGHTS:
                    options = replace(
                        base,
                        sentences=sentences,
                        neighbours=neighbours,
                        max_chars=max_chars,
                        judge_weight=weight,
                    )
                    evidence = EvidenceSelector(answerer.embedder, options, judge).select(
                        snapshot, queries, hits
                    )
                    first = (sentences, neighbours, max_chars) == FORMS[0]
                    if first and weight == WEIGHTS[0] and evidence.none is not None:
                        none.append((bool(item.answer_facts), evidence.none))
                        judged.append({"id": item.id, "none": round(evidence.none, 4)})
                    if not item.answer_facts:
                        continue
                    text = "\n".join(f"{h.title}\n{h.text}" for h in evidence.hits)
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
        f"(`python -m bench.sentence_choice --set {_shown(set_path)}`)",
        "",
        f"{len(items)} questions, {n_answerable} answerable; the {MAX_SENTENCES} best-scored "
        f"sentences of the {settings.evidence_candidates} best passages judged in one prefill, "
        f"{statistics.median(seconds):.1f} s median ({max(seconds):.1f} s at most).",
        "",
        "## Answer facts in the chosen excerpts (weight 0: the dense + lexical score alone)",
        "",
        "| excerpts | judgement weight | all facts in them | by language | median chars |",
        "|---|---|---|---|---|",
    ]
    for name, rows in found.items():
        by_language: dict[str, list[bool]] = {}
        for language, ok, _ in rows:
            by_language.setdefault(language, []).append(ok)
        parts = " / ".join(
            f"{language} {sum(v) / len(v):.3f}" for language, v in sorted(by_language.items())
        )
        share = sum(ok for _, ok, _ in rows) / len(rows)
        median_chars = statistics.median(c for _, _, c in rows)
        lines.append(f"| {name} | {share:.3f} | {parts} | {median_chars:.0f} |")
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
