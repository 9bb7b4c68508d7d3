"""`ragqa models ...`: provision, list and verify the offline default models."""

from __future__ import annotations

from typing import Annotated

import typer

from ragqa.config import Settings
from ragqa.errors import RagqaError
from ragqa.models.feedback import RichFeedback
from ragqa.models.provision import FETCH_HINT, ModelStatus, fetch_model, inspect_model
from ragqa.models.registry import MODELS, TEST_GENERATOR, ModelSpec, get_spec
from ragqa.models.resolve import configured_models, embedder_export

app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False)

NamesArgument = Annotated[
    list[str] | None,
    typer.Argument(help=f"Registry names ({', '.join(MODELS)}); default: the configured ones."),
]


@app.callback()
def load_settings(ctx: typer.Context) -> None:
    """Provision and verify the models (kept in RAGQA_MODEL_CACHE_DIR)."""
    ctx.obj = Settings()


def _settings(ctx: typer.Context) -> Settings:
    settings = ctx.obj
    assert isinstance(settings, Settings), "the callback builds the settings"
    return settings


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _select(
    settings: Settings, names: list[str] | None, *, add_test_model: bool
) -> list[ModelSpec]:
    specs = [get_spec(name) for name in names] if names else configured_models(settings)
    if add_test_model:
        specs.append(get_spec(TEST_GENERATOR))
    return list(dict.fromkeys(specs))


def _size(status: ModelStatus) -> str:
    return "-" if status.size_bytes is None else f"{status.size_bytes / 1e6:,.0f} MB"


@app.command()
def fetch(
    ctx: typer.Context,
    names: NamesArgument = None,
    all_models: Annotated[
        bool, typer.Option("--all", help=f"Also fetch the small test generator {TEST_GENERATOR}.")
    ] = False,
) -> None:
    """Download, assemble and verify models; a second run only re-verifies.

    For the configured models (no names given) it also makes the embedder's ONNX export,
    once, so that the service starts without it.
    """
    settings = _settings(ctx)
    try:
        specs = _select(settings, names, add_test_model=all_models)
        if not specs:
            typer.echo(
                "The configured embedder and generator are not registry models: nothing to fetch."
            )
        feedback = RichFeedback()
        for spec in specs:
            result = fetch_model(spec, settings.model_cache_dir, feedback=feedback)
            typer.echo(f"{result.name}: {result.action} -> {result.path}")
        if not names:
            export = embedder_export(settings)
            if export is not None:
                typer.echo(f"embedder ONNX export: ready -> {export}")
    except RagqaError as exc:
        raise _fail(str(exc)) from exc


@app.command("list")
def list_models(ctx: typer.Context) -> None:
    """Show every registry model: kind, status, path and size (status trusts the verify stamp)."""
    settings = _settings(ctx)
    configured = set(configured_models(settings))
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for column in ("name", "kind", "status", "path", "size"):
        table.add_column(column, overflow="fold")
    for spec in MODELS.values():
        status = inspect_model(spec, settings.model_cache_dir, rehash=False)
        marker = " (configured)" if spec in configured else ""
        table.add_row(spec.name + marker, spec.kind, status.state, str(status.path), _size(status))
    Console().print(table)


@app.command()
def verify(ctx: typer.Context, names: NamesArgument = None) -> None:
    """Hash every file of the configured (or named) models and of any other cached one."""
    settings = _settings(ctx)
    try:
        specs = _select(settings, names, add_test_model=False)
    except RagqaError as exc:
        raise _fail(str(exc)) from exc
    if not names:
        cached = [s for s in MODELS.values() if s.folder(settings.model_cache_dir).is_dir()]
        specs = list(dict.fromkeys(specs + cached))
    feedback = RichFeedback()
    failures = 0
    for spec in specs:
        status = inspect_model(spec, settings.model_cache_dir, rehash=True, feedback=feedback)
        if status.state == "ok":
            typer.echo(f"{spec.name}: ok ({status.path})")
            continue
        failures += 1
        typer.secho(f"{spec.name}: {status.state}: {status.problem}; {FETCH_HINT} {spec.name}",
                    fg=typer.colors.RED, err=True)  # fmt: skip
    if failures:
        raise typer.Exit(code=1)
