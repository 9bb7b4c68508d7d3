"""`python -m bench.named_citations RUN/eval.json ...`: `bench.check_replay --check people`,
the command README's figures for the check on sentences about the asked-for person give."""

from __future__ import annotations

import typer

from bench.check_replay import CheckName
from bench.check_replay import main as replay
from bench.report import DEFAULT_SET, Runs, RunsSet


def main(runs: Runs, questions: RunsSet = DEFAULT_SET) -> None:
    """Replay the people check over the runs' answers."""
    replay(runs, questions, CheckName.people)


if __name__ == "__main__":
    typer.run(main)
