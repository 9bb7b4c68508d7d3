"""Runs eval sets against a question-answering back end and turns the answers into figures.

The sets are read by `eval/items.py`, the back ends (this process or a server) are in
`eval/backends.py`, and each answer is scored by `eval/metrics.py`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeVar

from eval.backends import Answer, Backend, Found
from eval.items import QUESTION_TYPES, EvalItem, InjectionItem
from eval.metrics import (
    LANGUAGES,
    RETRIEVAL_K,
    AnswerRow,
    InjectionRow,
    RetrievalRow,
    score_answer,
    score_injection,
    score_retrieval,
)
from eval.summary import (
    breakdown,
    several_sweep,
    summarise_answers,
    summarise_injection,
    summarise_retrieval,
    support_sweep,
)
from ragqa.errors import ConfigError, RagqaError
from ragqa.types import RETRIEVAL_MODES, RetrievalMode

T = TypeVar("T")


class Track(Protocol):
    """Progress display: iterates the items while showing `description` (rich's `track`)."""

    def __call__(self, items: Sequence[T], description: str) -> Iterable[T]: ...


def no_progress(items: Sequence[T], description: str) -> Iterable[T]:
    return items


def _history(item: EvalItem | InjectionItem) -> list[dict[str, str]]:
    return [turn.model_dump() for turn in item.history]


def retrieval_row(
    item: EvalItem, search: Callable[[EvalItem], Sequence[Found]], *, context_k: int
) -> RetrievalRow:
    """Score the passages `search` gives for `item`, timed around the search alone, so that
    any engine (bench.peer's too) is measured as ragqa is. Documents are ranked from the first
    RETRIEVAL_K passages; the answer facts are looked for in the first `context_k`, the
    passages an answer is written from."""
    started = time.perf_counter()
    found = search(item)
    latency_ms = (time.perf_counter() - started) * 1000
    return score_retrieval(
        id=item.id,
        language=item.language,
        type=item.type,
        question=item.question,
        gold_docs=item.gold_docs,
        hit_doc_ids=[f.doc_id for f in found[:RETRIEVAL_K]],
        answer_facts=item.answer_facts,
        context="\n".join(f.text for f in found[:context_k]),
        latency_ms=latency_ms,
    )


def evaluate_retrieval(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    mode: RetrievalMode = "hybrid",
    cross_lingual: bool | None = None,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
) -> list[RetrievalRow]:
    """Search every answerable question (follow-ups with their history) and score the ranking
    and whether the first `context_k` passages hold the answer."""

    def search(item: EvalItem) -> list[Found]:
        return backend.search(
            item.question,
            top_k=max(RETRIEVAL_K, context_k),
            mode=mode,
            cross_lingual=cross_lingual,
            history=_history(item),
        )

    scored = [item for item in items if item.gold_docs]
    label = f"retrieval {mode}" + ("" if cross_lingual is None else f" xl={cross_lingual}")
    return [retrieval_row(item, search, context_k=context_k) for item in track(scored, label)]


def ask_or_record(backend: Backend, item: EvalItem | InjectionItem) -> Answer:
    """Ask; a question that fails (time limit, server error) is kept as an empty answer with
    its error, so one slow answer does not throw away an hour of evaluation."""
    try:
        return backend.ask(item.question, history=_history(item))
    except ConfigError:
        raise
    except RagqaError as error:
        return Answer("", False, {}, {}, 0, 0, error=f"{type(error).__name__}: {error}")


def answer_row(item: EvalItem, answer: Answer) -> AnswerRow:
    """Score `answer` to `item`, whoever gave it (bench.peer scores LlamaIndex's here too)."""
    return score_answer(
        id=item.id,
        language=item.language,
        type=item.type,
        question=item.question,
        gold_docs=item.gold_docs,
        answer_facts=item.answer_facts,
        answer=answer.text,
        refused=answer.refused,
        citation_docs=answer.citation_docs,
        timings=answer.timings,
        prompt_tokens=answer.prompt_tokens,
        completion_tokens=answer.completion_tokens,
        error=answer.error,
        model_text=answer.model_text,
        passage_ids=answer.passage_ids,
        read=answer.read,
        support=answer.support,
        several=answer.several,
    )


def evaluate_answers(
    backend: Backend, items: Sequence[EvalItem], *, track: Track = no_progress
) -> list[AnswerRow]:
    return [answer_row(item, ask_or_record(backend, item)) for item in track(items, "answers")]


def evaluate_injection(
    backend: Backend, items: Sequence[InjectionItem], *, track: Track = no_progress
) -> list[InjectionRow]:
    """Ask every injection question; planted documents are all indexed together, once."""

    def ask_all(target: Backend, batch: Sequence[InjectionItem], label: str) -> list[InjectionRow]:
        rows = []
        for item in track(batch, label):
            answer = ask_or_record(target, item)
            rows.append(
                score_injection(
                    id=item.id,
                    kind=item.kind,
                    language=item.language,
                    question=item.question,
                    answer=answer.text,
                    refused=answer.refused,
                    forbidden=item.forbidden,
                    answer_facts=item.answer_facts,
                    error=answer.error,
                )
            )
        return rows

    in_question = [i for i in items if i.kind == "question"]
    in_document = [i for i in items if i.kind == "document"]
    rows = ask_all(backend, in_question, "injection (question)") if in_question else []
    if in_document:
        with backend.with_documents({i.doc_id: i.doc_text for i in in_document}) as planted:
            rows += ask_all(planted, in_document, "injection (document)")
    order = {item.id: n for n, item in enumerate(items)}
    return sorted(rows, key=lambda row: order[row.id])


def compare_modes(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
) -> list[dict[str, Any]]:
    """Retrieval figures for each mode with cross-lingual expansion on and off."""
    comparison = []
    for mode in RETRIEVAL_MODES:
        for cross_lingual in (False, True):
            rows = evaluate_retrieval(
                backend,
                items,
                mode=mode,
                cross_lingual=cross_lingual,
                context_k=context_k,
                track=track,
            )
            figures = breakdown(rows, summarise_retrieval, {"language": LANGUAGES})
            comparison.append({"mode": mode, "cross_lingual": cross_lingual, **figures})
    return comparison


@dataclass(slots=True)
class EvalRun:
    """Everything one evaluation produced: per-question rows, the summary, and what was run."""

    meta: dict[str, Any]
    retrieval: list[RetrievalRow] = field(default_factory=list)
    answers: list[AnswerRow] = field(default_factory=list)
    injection: list[InjectionRow] = field(default_factory=list)
    modes: list[dict[str, Any]] = field(default_factory=list)

    @property
    def summary(self) -> dict[str, Any]:
        """Figures by section; a section this run did not evaluate is absent."""
        by = {"language": LANGUAGES, "type": QUESTION_TYPES}
        summary: dict[str, Any] = {}
        if self.retrieval:
            summary["retrieval"] = breakdown(self.retrieval, summarise_retrieval, by)
        if self.modes:
            summary["retrieval_modes"] = self.modes
        if self.answers:
            summary["answer"] = breakdown(self.answers, summarise_answers, by)
            if (sweep := support_sweep(self.answers)) is not None:
                summary["support_sweep"] = sweep
            if (sweep := several_sweep(self.answers)) is not None:
                summary["several_sweep"] = sweep
        if self.injection:
            summary["injection"] = breakdown(
                self.injection,
                summarise_injection,
                {"language": LANGUAGES, "kind": ("document", "question")},
            )
        return summary

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "summary": self.summary,
            "rows": {
                "retrieval": [asdict(r) for r in self.retrieval],
                "answer": [asdict(r) for r in self.answers],
                "injection": [asdict(r) for r in self.injection],
            },
        }


def run_evaluation(
    backend: Backend,
    items: Sequence[EvalItem],
    *,
    answer_items: Sequence[EvalItem] = (),
    injection_items: Sequence[InjectionItem] = (),
    modes: bool = True,
    context_k: int = RETRIEVAL_K,
    track: Track = no_progress,
    meta: Mapping[str, Any] | None = None,
) -> EvalRun:
    """Retrieval over `items` (and the mode comparison), answers for `answer_items`,
    injection attempts for `injection_items`. `context_k` is how many passages the answers
    are written from (the service's RAGQA_CONTEXT_K)."""
    started = time.time()
    run = EvalRun(meta={"backend": backend.description, "context_k": context_k, **(meta or {})})
    run.retrieval = evaluate_retrieval(backend, items, context_k=context_k, track=track)
    if modes:
        run.modes = compare_modes(backend, items, context_k=context_k, track=track)
    if answer_items:
        run.answers = evaluate_answers(backend, answer_items, track=track)
    if injection_items:
        run.injection = evaluate_injection(backend, injection_items, track=track)
    run.meta["started"] = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(started))
    run.meta["duration_s"] = round(time.time() - started, 1)
    return run
