"""Aggregation of the per-question rows of `eval/metrics.py` into the figures of a run.

Pure functions of the rows: shares, means and percentiles, overall and broken down by an
attribute (language, question type), as the report and the thresholds read them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from eval.metrics import AnswerRow, InjectionRow, RetrievalRow, distinct_documents

Row = TypeVar("Row")


def share(flags: Iterable[bool]) -> float | None:
    """Share of true flags; None when there is nothing to measure (not the same as 0)."""
    values = list(flags)
    return sum(values) / len(values) if values else None


def mean(values: Iterable[float]) -> float | None:
    collected = list(values)
    return float(np.mean(collected)) if collected else None


def percentile(values: Iterable[float], q: float) -> float | None:
    collected = list(values)
    return float(np.percentile(collected, q)) if collected else None


def summarise_retrieval(rows: Sequence[RetrievalRow]) -> dict[str, Any]:
    """Mean retrieval figures; multi-document recall only over multi-document questions."""
    return {
        "n": len(rows),
        "hit_at_1": share(r.hit_at_1 for r in rows),
        "hit_at_5": share(r.hit_at_5 for r in rows),
        "mrr": mean(r.reciprocal_rank for r in rows),
        "ndcg_at_5": mean(r.ndcg_at_5 for r in rows),
        "multi_doc_recall_at_5": mean(r.recall_at_5 for r in rows if r.type == "multi_doc"),
        "facts_in_context": share(r.facts_in_context for r in rows),
        "latency_ms_p50": percentile((r.latency_ms for r in rows), 50),
        "latency_ms_p95": percentile((r.latency_ms for r in rows), 95),
    }


SUPPORT_THRESHOLDS = tuple(round(0.05 * i, 2) for i in range(20))
SWEPT_FIGURES = ("accuracy", "refusal_precision", "refusal_recall", "false_refusal_rate")


def support_sweep(
    rows: Sequence[AnswerRow], thresholds: Sequence[float] = SUPPORT_THRESHOLDS
) -> list[dict[str, Any]] | None:
    """The answer figures had questions judged below each support threshold been refused:
    what `support_threshold` is chosen from. Exact for thresholds at or above the run's own
    (a question it refused has no answer to restore); None when no answer was judged."""
    if not any(r.support is not None for r in rows):
        return None

    def refused_below(row: AnswerRow, threshold: float) -> AnswerRow:
        if row.refused or row.support is None or row.support >= threshold:
            return row
        return replace(row, refused=True, correct=False if row.answerable else None)

    sweep = []
    for threshold in thresholds:
        figures = summarise_answers([refused_below(r, threshold) for r in rows])
        sweep.append({"threshold": threshold, **{f: figures[f] for f in SWEPT_FIGURES}})
    return sweep


def several_sweep(
    rows: Sequence[AnswerRow], thresholds: Sequence[float] = SUPPORT_THRESHOLDS
) -> list[dict[str, Any]] | None:
    """How well the several-events judgement picks the multi-document questions at each
    threshold (precision and recall against the set's `multi_doc` type): what
    `per_document_threshold` is chosen from. None when no question was judged."""
    judged = [r for r in rows if r.several is not None]
    if not judged:
        return None
    sweep = []
    for threshold in thresholds:
        chosen = [r for r in judged if (r.several or 0.0) >= threshold]
        sweep.append(
            {
                "threshold": threshold,
                "chosen": len(chosen),
                "precision": share(r.type == "multi_doc" for r in chosen),
                "recall": share(
                    (r.several or 0.0) >= threshold for r in judged if r.type == "multi_doc"
                ),
            }
        )
    return sweep


def summarise_answers(rows: Sequence[AnswerRow]) -> dict[str, Any]:
    """Answer figures. Citation figures cover answered (not refused) questions only, so a
    refusal counts once, as a false refusal, and not again as a missing citation."""
    answerable = [r for r in rows if r.answerable]
    answered = [r for r in rows if not r.refused]
    answered_answerable = [r for r in answerable if not r.refused]
    refused = [r for r in rows if r.refused]
    cited_docs = [doc for r in answered_answerable for doc in r.cited_docs]
    gold_hits = [doc in r.gold_docs for r in answered_answerable for doc in r.cited_docs]
    stages = sorted({stage for r in rows for stage in r.timings})
    with_read = [r for r in answerable if r.facts_in_read is not None]
    return {
        "n": len(rows),
        "answerable": len(answerable),
        "unanswerable": len(rows) - len(answerable),
        "accuracy": share(bool(r.correct) for r in answerable),
        "refusal_precision": share(not r.answerable for r in refused),
        "refusal_recall": share(r.refused for r in rows if not r.answerable),
        "false_refusal_rate": share(r.refused for r in answerable),
        "citation_validity": share(not r.unresolved_citations for r in answered),
        "citation_precision": share(gold_hits) if cited_docs else None,
        "cited_share": share(bool(r.cited_docs) for r in answered_answerable),
        # Whether the model was given what it needed, and how often it then answered right:
        # retrieval's share and reading's, apart (in-process runs, which know what was read).
        "facts_in_read": share(bool(r.facts_in_read) for r in with_read) if with_read else None,
        "accuracy_given_facts": (
            share(bool(r.correct) for r in with_read if r.facts_in_read)
            if any(r.facts_in_read for r in with_read)
            else None
        ),
        "damaged_answers": sum(bool(r.damage) for r in rows),
        "wrong_language_answers": sum(r.wrong_language for r in rows),
        "failed_answers": sum(bool(r.error) for r in rows),
        "latency_ms": {
            stage: {
                "p50": percentile((r.timings[stage] for r in rows if stage in r.timings), 50),
                "p95": percentile((r.timings[stage] for r in rows if stage in r.timings), 95),
            }
            for stage in stages
        },
        "prompt_tokens": {
            "mean": mean(r.prompt_tokens for r in rows),
            "p95": percentile((r.prompt_tokens for r in rows), 95),
        },
        "completion_tokens": {
            "mean": mean(r.completion_tokens for r in rows),
            "p95": percentile((r.completion_tokens for r in rows), 95),
        },
    }


def summarise_injection(rows: Sequence[InjectionRow]) -> dict[str, Any]:
    return {
        "n": len(rows),
        "obey_rate": share(r.obeyed for r in rows),
        "accuracy": share(bool(r.correct) for r in rows if r.correct is not None),
        "refusal_rate": share(r.refused for r in rows),
        "failed_answers": sum(bool(r.error) for r in rows),
    }


def breakdown(
    rows: Sequence[Row],
    summarise: Callable[[Sequence[Row]], dict[str, Any]],
    by: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """Summary overall and per value of each attribute in `by` (attribute -> value order).

    Values met in the rows but missing from the given order are appended, so nothing is
    silently dropped from the report.
    """
    result: dict[str, Any] = {"overall": summarise(rows)}
    for attribute, order in by.items():
        seen = distinct_documents(str(getattr(r, attribute)) for r in rows)
        values = [v for v in order if v in seen] + [v for v in seen if v not in order]
        result[f"by_{attribute}"] = {
            value: summarise([r for r in rows if getattr(r, attribute) == value])
            for value in values
        }
    return result
