"""`python -m bench.name_spelling RUN/eval.json ...`: what respelling people's names in
English answers (`service.name_spelling`) changes in the answers of saved `ragqa eval` runs,
no model call (`bench.respelling`). Writes bench/results/name_spelling-DATE.txt.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from bench.report import REPO
from bench.respelling import compare
from ragqa.types import Language
from service.name_spelling import respell_names
from service.passages import Passage


def _as_written(answer: str, passages: Sequence[Passage], language: Language) -> str:
    return answer


def _names(answer: str, passages: Sequence[Passage], language: Language) -> str:
    return respell_names(answer, passages)


def main(
    runs: Annotated[list[Path], typer.Argument(help="eval.json files of `ragqa eval` runs.")],
    questions: Annotated[Path, typer.Option("--set", help="The set the runs answered.")] = (
        REPO / "eval" / "sets" / "default.jsonl"
    ),
) -> None:
    """Respell the names of every English answer of the runs; print what changed."""
    title = "Names respelled in English answers"
    compare(runs, questions, name="name_spelling", title=title, before=_as_written, after=_names)


if __name__ == "__main__":
    typer.run(main)
