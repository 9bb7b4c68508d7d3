"""`python -m bench.term_spelling RUN/eval.json ...`: what writing half-translated terms of
English answers whole (`service.term_spelling`, after the names are respelled, as the claim
check does) changes in the answers of saved `ragqa eval` runs, no model call
(`bench.respelling`). Writes bench/results/term_spelling-DATE.txt.
"""

from __future__ import annotations

from collections.abc import Sequence

import typer

from bench.report import DEFAULT_SET, Runs, RunsSet
from bench.respelling import compare, names_respelled
from ragqa.types import Language
from service.passages import Passage
from service.term_spelling import load_dictionary, respell_terms


def _terms_after_names(answer: str, passages: Sequence[Passage], language: Language) -> str:
    return respell_terms(names_respelled(answer, passages, language), passages)


def main(
    runs: Runs,
    questions: RunsSet = DEFAULT_SET,
) -> None:
    """Write the half-translated terms of every English answer of the runs whole; print what
    changed against the names respelled alone."""
    load_dictionary()  # as the service does at start
    title = "Half-translated terms written whole in English answers"
    compare(
        runs,
        questions,
        name="term_spelling",
        title=title,
        before=names_respelled,
        after=_terms_after_names,
    )


if __name__ == "__main__":
    typer.run(main)
