"""Progress and notes from long provisioning steps, silent unless a terminal asked for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ragqa.models.integrity import Advance


class Feedback:
    """Silent feedback: library calls and tests see no output."""

    shows_subprocess_output = False
    """Whether child processes (pip) may print their own progress to the terminal."""

    def note(self, message: str) -> None:
        """A one-line remark (what is corrupt, what is being repaired)."""

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        """A step of `total` bytes; the yielded callable advances it."""
        yield lambda _advance: None


class RichFeedback(Feedback):
    """Notes and byte-progress bars on stderr via rich; pip shows its own download bars."""

    shows_subprocess_output = True

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)

    def note(self, message: str) -> None:
        self.console.print(message, markup=False, highlight=False)

    @contextmanager
    def task(self, description: str, total: int | None) -> Iterator[Advance]:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as progress:
            task_id = progress.add_task(description, total=total)
            yield lambda advance: progress.advance(task_id, advance)
