"""`python -m bench.route A.json B.json [B2.json ...]`: would asking the support judgement
over two contexts, and answering from the one it trusts more, give better answers? Computed
from saved `ragqa eval` runs (each row's `support`), no model call.

For each question the answer of the run whose support (the model's probability that its
passages state the answer) is higher is taken, then refused below the support threshold as
the answerer does. Printed for A alone, each B alone and A routed with each B: answerable
questions right and refused, unanswerable ones refused. Writes bench/results/route-DATE.txt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from bench.report import answers_by_id, save_dated

Row = dict[str, Any]


def refused(row: Row, threshold: float) -> bool:
    """Refused by the model or the checks, or by the support threshold."""
    support = row.get("support")
    return bool(row["refused"]) or (support is not None and support < threshold)


def routed(a: Row, b: Row) -> Row:
    """The row whose support is higher (`a` on a tie or when either has none)."""
    sa, sb = a.get("support"), b.get("support")
    return b if sa is not None and sb is not None and sb > sa else a


def figures(rows: dict[str, Row], threshold: float) -> str:
    """One line: answerable questions right and refused, unanswerable ones refused."""
    answerable = [r for r in rows.values() if r["answerable"]]
    other = [r for r in rows.values() if not r["answerable"]]
    right = sum(bool(r["correct"]) and not refused(r, threshold) for r in answerable)
    lost = sum(refused(r, threshold) for r in answerable)
    kept = sum(refused(r, threshold) for r in other)
    return (
        f"right {right}/{len(answerable)}, answerable refused {lost}, "
        f"unanswerable refused {kept}/{len(other)}"
    )


def main(
    first: Annotated[Path, typer.Argument(help="eval.json of one configuration.")],
    others: Annotated[list[Path], typer.Argument(help="eval.json of the other configuration(s).")],
    threshold: Annotated[float, typer.Option(help="The support threshold to refuse below.")] = 0.55,
) -> None:
    """Print each run's figures and those of routing by support."""
    a = answers_by_id(first)
    lines = [f"{first}: {figures(a, threshold)}"]
    for other in others:
        b = answers_by_id(other)
        both = {i: routed(row, b[i]) for i, row in a.items() if i in b}
        lines += [f"{other}: {figures(b, threshold)}", f"  routed: {figures(both, threshold)}"]
    out = save_dated("route", "\n".join(lines))
    print("\n".join(lines))
    print(f"written: {out}")


if __name__ == "__main__":
    typer.run(main)
