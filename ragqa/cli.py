"""The `ragqa` command: each resource's commands live beside the code they drive."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="ragqa: cited answers from a document collection, offline. "
    "Every option can also be set as a RAGQA_* environment variable or in .env.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    """Attach the sub-commands; imports stay light so `ragqa --help` is fast."""
    from eval.cli import register as register_eval
    from index.cli import app as index_app
    from ragqa.models.cli import app as models_app
    from service.cli import register as register_service

    app.add_typer(models_app, name="models", help="Provision and verify the models.")
    app.add_typer(index_app, name="index", help="Build and update the document index.")
    register_service(app)
    register_eval(app)


_register()


if __name__ == "__main__":
    app()
