"""`python -m bench.lead [--set FILE ...]`: how often the leading sentence holds every answer
fact, with the focus tests of service.lead_focus and without them, without generating.

The model answers right far more often when the sentence put first holds every fact
(docs/evaluation.md, "Where the next gain is: the leading sentence"), so a change to how it
is chosen is measured here first, in minutes, before the full evaluation runs. Each answerable
question is retrieved and its lead chosen as the answerer does (query translation, follow-up
rewriting, the reports naming the person asked about); the sentence holds a fact when one of
its alternatives occurs in it, as `ragqa eval` matches facts. Writes
bench/results/lead-DATE.txt.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated
from unittest import mock

import typer

from bench.report import DEFAULT_SET, REPO, save_dated, shown_path
from eval.items import EvalItem, load_items
from eval.metrics import missing_fact_groups
from ragqa.config import Settings
from service.answering import Answerer
from service.compose import build_answerer
from service.named_subject import hits_of_documents_naming

SETS = (
    DEFAULT_SET,
    *(REPO / "eval" / "sets" / f"{name}.jsonl" for name in ("heldout", "heldout2")),
)


def lead_holds(answerer: Answerer, item: EvalItem) -> tuple[bool, bool]:
    """Whether the lead the answerer chooses for `item` holds every fact, with the focus
    tests and without them."""
    settings = answerer.settings
    snapshot = answerer.snapshot
    history = [turn.model_dump() for turn in item.history]
    retrieval = answerer.retriever.search(
        snapshot, item.question, answerer.candidates(settings.context_k), history=history
    )
    hits = retrieval.hits[: settings.context_k]
    question = retrieval.question or item.question
    queries = list(dict.fromkeys([question, *retrieval.queries]))
    if settings.named_documents:
        hits = hits_of_documents_naming(queries, hits)

    def holds() -> bool:
        lead = answerer._lead(snapshot, question, queries, hits)
        text = lead.hits[0].text if lead.scores else ""
        return not missing_fact_groups(text, item.answer_facts)

    focused = holds()
    with mock.patch("service.answering.lead_focus", lambda queries: []):
        return focused, holds()


def main(
    sets: Annotated[
        list[Path] | None, typer.Option("--set", help="Evaluation sets (JSONL); all three.")
    ] = None,
) -> None:
    """Print and write the counts per set, and the questions whose lead the focus changes."""
    paths = sets or list(SETS)
    settings = Settings()
    answerer = build_answerer(settings)
    if answerer.lead is None:
        raise typer.BadParameter("the leading sentence is off (RAGQA_EVIDENCE_LEAD=0)")
    lines = [
        f"# Leading sentence holding every answer fact, measured {date.today()} "
        f"(`python -m bench.lead`)",
        "",
        "| set | answerable | with focus | without |",
        "|---|---|---|---|",
    ]
    changed: list[str] = []
    try:
        for path in paths:
            items = [i for i in load_items(path, EvalItem) if i.answer_facts]
            with_focus = without = 0
            for item in items:
                focused, plain = lead_holds(answerer, item)
                with_focus += focused
                without += plain
                if focused != plain:
                    changed.append(f"{item.id} {'gained' if focused else 'lost'}")
                print(item.id, int(focused), int(plain), flush=True)
            lines.append(f"| {shown_path(path)} | {len(items)} | {with_focus} | {without} |")
    finally:
        answerer.close()
    lines += ["", "Changed by the focus: " + (", ".join(changed) or "none")]
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"written to {shown_path(save_dated('lead', text))}")


if __name__ == "__main__":
    typer.run(main)
