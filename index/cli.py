"""`ragqa index ...`: build, update, inspect the document index from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from index.backend import SearchView
from index.embedder import Embedder
from ragqa.config import Settings
from ragqa.errors import RagqaError

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)


@contextmanager
def _clear_errors() -> Iterator[None]:
    """A known failure becomes one line naming the file and the problem, and exit code 1."""
    try:
        yield
    except RagqaError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        typer.echo(f"error: {where}{error.strerror or error}", err=True)
        raise typer.Exit(1) from None


@app.callback()
def _load_settings(ctx: typer.Context) -> None:
    """Read the settings once for every index command."""
    try:
        ctx.obj = Settings()
    except ValidationError as error:
        problems = "; ".join(
            f"RAGQA_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        typer.echo(f"error: invalid settings: {problems}", err=True)
        raise typer.Exit(1) from None


def _embedder(settings: Settings) -> Embedder:
    """The configured embedder; an unprovisioned model is a ModelError naming the fix."""
    from ragqa.models.resolve import load_configured_embedder

    return load_configured_embedder(settings)


@app.command()
def build(
    ctx: typer.Context,
    path: Annotated[
        Path | None, typer.Argument(help="Collection folder (default: RAGQA_COLLECTION_DIR).")
    ] = None,
) -> None:
    """Index a whole collection from scratch into a new generation."""
    from index.ingest import build_index

    settings: Settings = ctx.obj
    with _clear_errors():
        report = build_index(settings, _embedder(settings), root=path)
    if report.documents == 0:
        typer.echo("warning: no document was indexed", err=True)


@app.command()
def add(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders to add or update.")],
) -> None:
    """Add new files and re-index changed ones; unchanged files are skipped."""
    from index.ingest import add_paths

    settings: Settings = ctx.obj
    with _clear_errors():
        report = add_paths(settings, _embedder(settings), paths)
    if report.failures and not (report.added or report.replaced or report.unchanged):
        raise typer.Exit(1)


@app.command()
def remove(
    ctx: typer.Context,
    doc_ids: Annotated[list[str], typer.Argument(help="Document ids, as `stats` lists them.")],
) -> None:
    """Remove documents from the index (all or nothing: an unknown id changes nothing)."""
    from index.ingest import open_store

    settings: Settings = ctx.obj
    with _clear_errors():
        report = open_store(settings, None).remove_documents(doc_ids)
    typer.echo(
        f"Removed {len(report.removed)} documents ({report.chunks_removed} chunks); "
        f"live generation: {report.generation}."
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _bilingual(settings: Settings, snapshot: SearchView) -> str:
    """How much of the bilingual side exists (`service.bilingual` makes it)."""
    from index.bilingual import Coverage, readings, wanted_translations
    from index.translations import TRANSLATIONS_FILE, TranslationCache

    limit = settings.bilingual_max_chunks
    if limit == 0:
        return "off (RAGQA_BILINGUAL_MAX_CHUNKS=0)"
    if len(snapshot) > limit:
        return f"off: {len(snapshot)} chunks, over RAGQA_BILINGUAL_MAX_CHUNKS={limit}"
    path = settings.index_dir / TRANSLATIONS_FILE
    if not path.exists():
        coverage = Coverage(0, len(wanted_translations(snapshot)))
    else:
        cache = TranslationCache(path, translator=None)  # the translator that ran last
        try:
            _, coverage = readings(snapshot, cache)
        finally:
            cache.close()
    if coverage.wanted == 0:
        return "nothing to translate (one language, or a store that cannot list its chunks)"
    return f"{coverage.translated} of {coverage.wanted} chunk translations made ({path})"


@app.command()
def stats(ctx: typer.Context) -> None:
    """What the live index holds, what built it, and how long the last full build took."""
    from index.ingest import open_store

    settings: Settings = ctx.obj
    with _clear_errors():
        store = open_store(settings, None)
        info = store.stats()
        bilingual = _bilingual(settings, store.snapshot)
    build = f"{info.build_seconds:.1f} s" if info.build_seconds is not None else "never"
    rows = [
        ("index", f"{info.store} at {info.location} (generation {info.generation})"),
        ("documents", str(info.n_documents)),
        ("chunks", str(info.n_chunks)),
        ("languages", ", ".join(info.languages) or "-"),
        ("embedder", f"{info.embedder_id} ({info.dimension}-d, {info.embedder_fingerprint})"),
        ("search index", info.search_index),
        ("chunking", f"{info.chunk_size} tokens, {info.chunk_overlap} sentence(s) overlap"),
        (
            "size on disk",
            f"{_megabytes(info.disk_bytes)} (live {_megabytes(info.generation_bytes)})",
        ),
        ("written at", info.created_at.isoformat(timespec="seconds")),
        ("last full build", build),
        ("bilingual", bilingual),
    ]
    for label, value in rows:
        typer.echo(f"{label:<16}{value}")
