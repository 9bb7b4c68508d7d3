"""`python -m bench.name_spelling RUN/eval.json ...`: what respelling people's names in
English answers (`service.name_spelling`) changes in the answers of saved `ragqa eval` runs,
no model call (`bench.respelling`). Writes bench/results/name_spelling-DATE.txt.
"""

from __future__ import annotations

import typer

from bench.report import DEFAULT_SET, Runs, RunsSet
from bench.respelling import as_written, compare, names_respelled


def main(
    runs: Runs,
    questions: RunsSet = DEFAULT_SET,
) -> None:
    """Respell the names of every English answer of the runs; print what changed."""
    compare(
        runs,
        questions,
        name="name_spelling",
        title="Names respelled in English answers",
        before=as_written,
        after=names_respelled,
    )


if __name__ == "__main__":
    typer.run(main)
