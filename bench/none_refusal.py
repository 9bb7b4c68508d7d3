"""`python -m bench.none_refusal ROWS.json RUN/eval.json`: would the sentence choice's
probability of "none" refuse what the support judgement lets through? Computed from saved
files (the rows of `python -m bench.sentence_choice --judgement-only --rows ROWS.json` and a
`ragqa eval` run), no model call.

Printed: how well each score ranks unanswerable questions above answerable ones (AUC), then,
per threshold, what refusing at or above it as well would add to the run's own refusals.
Writes bench/results/none_refusal-DATE.txt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.report import answers_by_id, auc, save_dated, shown_path

THRESHOLDS = (0.2, 0.25, 0.28, 0.3, 0.35, 0.4, 0.5)


def added_refusals(
    none: dict[str, float], rows: dict[str, dict[str, object]], threshold: float
) -> tuple[int, int, int]:
    """Questions the run did not refuse whose "none" is at or above `threshold`: answerable
    ones, how many of those it answered right, and unanswerable ones."""
    flagged = [rows[i] for i, p in none.items() if p >= threshold and not rows[i]["refused"]]
    answerable = [r for r in flagged if r["answerable"]]
    return (
        len(answerable),
        sum(bool(r["correct"]) for r in answerable),
        len(flagged) - len(answerable),
    )


def main(
    judged: Annotated[Path, typer.Argument(help="Rows of bench.sentence_choice --rows.")],
    run: Annotated[Path, typer.Argument(help="eval.json of a `ragqa eval` run.")],
) -> None:
    """Print and write the table."""
    rows = answers_by_id(run)
    none = {r["id"]: float(r["none"]) for r in json.loads(judged.read_text("utf-8"))}
    rows = {i: rows[i] for i in none}
    answerable = [i for i in none if rows[i]["answerable"]]
    unanswerable = [i for i in none if not rows[i]["answerable"]]
    supported = [i for i in none if rows[i].get("support") is not None]
    let_through = [i for i in unanswerable if not rows[i]["refused"]]
    answered = ", ".join(f"{i} ({none[i]:.2f})" for i in let_through) or "none"
    none_auc = auc([none[i] for i in unanswerable], [none[i] for i in answerable])
    doubt = {i: 1 - float(rows[i]["support"]) for i in supported}
    support_auc = auc(
        [doubt[i] for i in unanswerable if i in doubt], [doubt[i] for i in answerable if i in doubt]
    )
    lines = [
        f'# The probability of "none" as a refusal signal (`python -m bench.none_refusal '
        f"{shown_path(judged)} {shown_path(run)}`)",
        "",
        f"{len(answerable)} answerable and {len(unanswerable)} unanswerable questions; the run "
        f"refused {len(unanswerable) - len(let_through)} unanswerable ones and answered "
        f'{answered} ("none" in brackets).',
        "",
        f'AUC, unanswerable above answerable: "none" {none_auc:.3f}; 1 - support {support_auc:.3f}',
        "",
        '| also refuse at "none" >= | answerable refused besides (right among them) | '
        "unanswerable refused besides |",
        "|---|---|---|",
    ]
    for threshold in THRESHOLDS:
        lost, right, caught = added_refusals(none, rows, threshold)
        lines.append(f"| {threshold} | {lost} ({right}) | {caught} of {len(let_through)} |")
    text = "\n".join([*lines, ""])
    print(text)
    save_dated("none_refusal", text)


if __name__ == "__main__":
    typer.run(main)
