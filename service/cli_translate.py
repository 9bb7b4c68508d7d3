"""`ragqa translate`: the bilingual index's translations made now, in the foreground."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from ragqa.config import Settings
from ragqa.errors import RagqaError

err = Console(stderr=True, soft_wrap=True)


def translate(
    max_chunks: Annotated[
        int | None,
        typer.Option(
            help="Translate only collections of up to this many chunks "
            "[RAGQA_BILINGUAL_MAX_CHUNKS; when that is 0, any size]."
        ),
    ] = None,
) -> None:
    """Translate every sentence of the collection into its other language for the bilingual
    index, kept in translations.sqlite3 beside the index. Resumable: after an interruption,
    only what is missing is translated. `ragqa serve` does the same in the background for
    collections up to RAGQA_BILINGUAL_MAX_CHUNKS."""
    from service.compose import build_answerer

    configured = Settings()
    limit = max_chunks or configured.bilingual_max_chunks or 10**9
    settings = configured.model_copy(update={"bilingual_max_chunks": limit})
    try:
        answerer = build_answerer(settings)
    except RagqaError as e:
        err.print(f"[bold red]error:[/] {e}")
        raise typer.Exit(1) from None
    indexer = answerer.bilingual
    assert indexer is not None  # bilingual_max_chunks > 0
    before = indexer.status()
    started = time.perf_counter()
    try:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as bar:
            task = bar.add_task("sentences", total=None)

            def advance(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            indexer.translate_pending(progress=advance)
    finally:
        answerer.close()
    after = indexer.status()
    seconds = time.perf_counter() - started
    made = after.chunks_translated - before.chunks_translated
    typer.echo(
        f"{after.state}: {after.chunks_translated} of {after.chunks_wanted} chunk translations "
        f"made; this run translated {after.sentences_translated} sentences "
        f"({made} chunks) in {seconds:.0f} s ({after.translate_seconds:.0f} s in the model, "
        f"{after.pieces} tokens out)"
        + (
            f": {seconds / made * 1000 / 3600:.1f} h and "
            f"{after.pieces / made * 1000:,.0f} tokens per 1,000 chunk translations"
            if made
            else ""
        )
    )
    if after.state == "over the size limit":
        raise typer.Exit(1)
