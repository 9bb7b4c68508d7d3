"""`ragqa feedback export`: the answers readers marked wrong, as eval-set items to complete.

Each thumbs-down turn becomes one line of eval/FORMAT.md's question format. What the right
answer is only a person can say, so its `answer_facts` hold the placeholder `TODO` (and
`gold_docs` too when the answer cited nothing); the `note` carries the answer given and the
reader's comment, to help whoever completes it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ragqa.config import Settings
from service.feedback import FeedbackRecord, FeedbackStore
from service.language import detect_language

TODO = "TODO"

app = typer.Typer(no_args_is_help=True)


def eval_item(record: FeedbackRecord) -> dict[str, Any]:
    """One eval-set item (eval/FORMAT.md) from a thumbs-down rating, with TODO placeholders
    where the right answer goes; the cited documents are the first guess at `gold_docs`."""
    cited = list(dict.fromkeys(c["doc_id"] for c in record.citations))
    note = f"{TODO}: write the right answer's facts (and check gold_docs). Answer given"
    note += " (a refusal)" if record.refused else ""
    note += f": {record.answer}"
    if record.comment:
        note += f" Reader's comment: {record.comment}"
    item: dict[str, Any] = {
        "id": f"feedback-{record.id}",
        "question": record.question,
        "language": detect_language(record.question),
        "type": "followup" if record.history else "fact",
    }
    if record.history:
        item["history"] = record.history
    item |= {"gold_docs": cited or [TODO], "answer_facts": [[TODO]], "note": note}
    return item


def export(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
) -> None:
    """Write the thumbs-down answers as eval-set items (JSON Lines, eval/FORMAT.md) for a
    person to complete with the right answer: replace every TODO, then add them to a set."""
    settings = Settings()
    records = FeedbackStore(settings.feedback_path).records("down")
    lines = "".join(json.dumps(eval_item(r), ensure_ascii=False) + "\n" for r in records)
    if out is None:
        typer.echo(lines, nl=False)
    else:
        out.write_text(lines, encoding="utf-8")
    typer.echo(
        f"{len(records)} thumbs-down answers exported"
        + (f" to {out}" if out else "")
        + f" (from {settings.feedback_path})",
        err=True,
    )


app.command("export")(export)
