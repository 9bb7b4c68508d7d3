"""`python -m bench.title_spelling RUN/eval.json ...`: what writing miscopied 《titles》 as
the passages write them (`service.title_spelling`) changes in the answers of saved `ragqa
eval` runs, in every language, no model call (`bench.respelling`). Writes
bench/results/title_spelling-DATE.txt.
"""

from __future__ import annotations

import typer

from bench.report import DEFAULT_SET, Runs, RunsSet
from bench.respelling import as_written, compare
from service.title_spelling import respell_titles


def main(
    runs: Runs,
    questions: RunsSet = DEFAULT_SET,
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
