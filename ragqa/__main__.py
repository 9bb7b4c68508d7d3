"""`python -m ragqa` runs the `ragqa` command."""

from ragqa.cli import app

app()
