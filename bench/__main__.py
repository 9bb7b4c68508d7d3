"""`python -m bench [section] [--quick]`: run sections, print tables, write BENCHMARKS.md."""

from __future__ import annotations

from typing import Annotated

import typer

from bench.suite import run_section, sections_for, write_benchmarks

app = typer.Typer(add_completion=False)


@app.command()
def main(
    section: Annotated[
        str, typer.Argument(help="retrieval, ingestion, generation, load, peer, startup or all.")
    ] = "all",
    quick: Annotated[
        bool, typer.Option("--quick", help="Small sizes and few repeats (minutes, indicative).")
    ] = False,
) -> None:
    """Measure ragqa against the engines it wraps and a peer; write BENCHMARKS.md."""
    try:
        names = sections_for(section)
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    for name in names:
        run_section(name, quick=quick)
        path = write_benchmarks()
    typer.echo(f"wrote {path}")


if __name__ == "__main__":
    app()
