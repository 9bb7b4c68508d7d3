"""`python -m bench.agreement BASE.json OTHER.json [...]`: would refusing when two ways of
answering disagree make answers more trustworthy? Computed from saved `ragqa eval` runs, no
model call.

A fabricated answer tends to change with the prompt; a right one, one hopes, does not. For
each question the base run's answer is kept only when the other run's answer to it shares
enough of its key terms (Chinese character pairs, numbers, capitalised words), and counts as
a refusal otherwise. The report gives, per threshold, how many answerable questions stay
right, how many unanswerable ones are refused, and how many answerable ones are refused.
Writes bench/results/agreement-DATE.txt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from bench.report import answers_by_id, save_dated
from ragqa.types import CITATION_MARKER

_HAN_RUN = re.compile(r"[\u3400-\u9fff]{2,}")
_NUMBER = re.compile(r"\d+")
_CAPITALISED = re.compile(r"\b[A-Z][a-z]+\b")


def key_terms(text: str) -> set[str]:
    """Chinese character pairs, numbers and capitalised words of an answer, markers left out."""
    plain = CITATION_MARKER.sub(" ", text)
    pairs = {run[i : i + 2] for run in _HAN_RUN.findall(plain) for i in range(len(run) - 1)}
    words = {w.lower() for w in _CAPITALISED.findall(plain)}
    return pairs | set(_NUMBER.findall(plain)) | words


def agree(a: dict[str, Any], b: dict[str, Any], threshold: float) -> bool:
    """Both answered, and the smaller set of key terms is at least `threshold` shared."""
    if a["refused"] or b["refused"]:
        return False
    ka, kb = key_terms(a["answer"]), key_terms(b["answer"])
    return bool(ka and kb) and len(ka & kb) / min(len(ka), len(kb)) >= threshold


def main(
    base: Annotated[Path, typer.Argument(help="eval.json of the run whose answers are kept.")],
    others: Annotated[list[Path], typer.Argument(help="eval.json of runs to agree with.")],
) -> None:
    """Print, per other run and threshold, what refusing on disagreement would give."""
    kept = answers_by_id(base)
    answerable = [r for r in kept.values() if r["answerable"]]
    unanswerable = [r for r in kept.values() if not r["answerable"]]
    lines = [
        f"{base}: right {sum(bool(r['correct']) for r in answerable)}/{len(answerable)}, "
        f"unanswerable refused {sum(bool(r['refused']) for r in unanswerable)}/"
        f"{len(unanswerable)}, answerable refused {sum(bool(r['refused']) for r in answerable)}"
    ]
    for other in others:
        rows = answers_by_id(other)
        for threshold in (0.5, 0.7, 0.85):
            agreed = {i: agree(r, rows[i], threshold) for i, r in kept.items() if i in rows}
            right = sum(bool(r["correct"]) and agreed[r["id"]] for r in answerable)
            refused = sum(not agreed[r["id"]] for r in unanswerable)
            lost = sum(not agreed[r["id"]] for r in answerable)
            lines.append(
                f"  with {other.parent.name} at {threshold}: right {right}/{len(answerable)}, "
                f"unanswerable refused {refused}/{len(unanswerable)}, answerable refused {lost}"
            )
    out = save_dated("agreement", "\n".join(lines))
    print("\n".join(lines))
    print(f"written: {out}")


if __name__ == "__main__":
    typer.run(main)
