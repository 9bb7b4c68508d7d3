"""`python -m bench.title_spelling RUN/eval.json ...`: what writing miscopied 《titles》 as
the passages write them (`service.title_spelling`) changes in the answers of saved `ragqa
eval` runs, in every language, no model call (`bench.respelling`). Writes
bench/results/title_spelling-DATE.txt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bench.report import REPO
from bench.respelling import as_written, compare
from service.title_spelling import respell_titles


def main(
    runs: Annotated[list[Path], typer.Argument(help="eval.json files of `ragqa eval` runs.")],
    questions: Annotated[Path, typer.Option("--set", help="The set the runs answered.")] = (
        REPO / "eval" / "sets" / "default.jsonl"
    ),
) -> None:
    """Respell the titles of every answer of the runs; print what changed."""
    compare(
        runs,
        questions,
        name="title_spelling",
        title="Miscopied titles written as the passages write them",
        before=as_written,
        after=respell_titles,
        languages=("en", "zh-Hans", "zh-Hant"),
    )


if __name__ == "__main__":
    typer.run(main)
