"""`ragqa ask`: one question, answered here or by a running server (`--url`).

The question is checked as the API checks it before anything is loaded, so a bad question
fails at once with exit code 2. While the answer is prepared, a spinner on a terminal names
the step; the answer and its sources are printed once, on stdout.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Protocol

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.status import Status

from ragqa.config import Settings
from ragqa.errors import (
    InvalidRequest,
    QuestionTooLong,
    RagqaError,
    RemoteServerError,
)

if TYPE_CHECKING:  # imported when used: `ragqa --help` stays fast
    from service.schemas import AskRequest

err = Console(stderr=True, soft_wrap=True)
BAD_INPUT_EXIT = 2  # as for a bad option: the question itself is wrong, nothing ran


class CitedSource(Protocol):
    """A citation as printed (the answerer's and the HTTP response's both fit)."""

    @property
    def n(self) -> int: ...
    @property
    def title(self) -> str: ...
    @property
    def doc_id(self) -> str: ...
    @property
    def quote(self) -> str: ...


@dataclass(frozen=True)
class Answer:
    """What is printed: the same whether the answer came from here or from a server."""

    text: str
    refused: bool
    citations: list[CitedSource]
    timings: dict[str, float]


class Progress:
    """The current step under a spinner on a terminal; with `verbose`, steps as lines too."""

    def __init__(self, console: Console, *, verbose: bool) -> None:
        self.console = console
        self.verbose = verbose
        self.status: Status | None = None
        self.tokens = 0

    def __enter__(self) -> Progress:
        if self.console.is_terminal:
            self.status = self.console.status("", spinner="dots")
            self.status.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self.status is not None:
            self.status.stop()

    def step(self, text: str) -> None:
        if self.status is not None:  # naming the spinner draws the new step at once
            self.status.update(text, spinner="dots")
        if self.verbose and not self.console.is_terminal:
            self.console.print(text, markup=False, highlight=False)

    def token(self) -> None:
        self.tokens += 1
        if self.status is not None:
            self.status.update(f"Writing the answer… {self.tokens} tokens")


def checked_question(question: str, top_k: int | None, max_chars: int | None) -> AskRequest:
    """The question as the API would accept it, or the API's reason as a domain error.

    `max_chars` is None when a server checks the length against its own limit.
    """
    from service.schemas import AskRequest

    try:
        body = AskRequest.model_validate({"question": question, "top_k": top_k})
    except ValidationError as e:
        field = e.errors()[0]
        name = ".".join(str(part) for part in field["loc"]) or "question"
        reason = field["msg"].removeprefix("Value error, ")
        raise InvalidRequest(f"{name} {reason}") from None
    if max_chars is not None and len(body.question) > max_chars:
        raise QuestionTooLong(len(body.question), max_chars)
    return body


def answer_here(body: AskRequest, settings: Settings, progress: Progress) -> Answer:
    """Load the index and the models in this process and answer."""
    from service.answering import DoneEvent, PassagesEvent, TokenEvent
    from service.compose import build_answerer

    progress.step("Loading the index and the models…")
    answerer = build_answerer(settings)
    progress.step("Searching the documents…")
    for event in answerer.ask_events(body.question, top_k=body.top_k):
        if isinstance(event, PassagesEvent):
            progress.step("Writing the answer…")
        elif isinstance(event, TokenEvent):
            progress.token()
        elif isinstance(event, DoneEvent):
            r = event.result
            return Answer(r.answer, r.refused, list(r.citations), r.timings)
    raise RagqaError("the answer ended without a result")  # pragma: no cover


def _detail(response: Any) -> str:
    try:
        detail = json.loads(response.read())["detail"]
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d['loc'][1:]))} {d['msg']}" for d in detail)
    return str(detail)


def _server_events(url: str, body: AskRequest, timeout_s: float) -> Iterator[tuple[str, Any]]:
    """(event, data) of a streamed `/v1/ask` answer from the server at `url`."""
    import httpx
    from httpx_sse import connect_sse

    payload = {**body.model_dump(exclude_none=True), "stream": True}
    timeout = httpx.Timeout(timeout_s, connect=10)
    try:
        with (
            httpx.Client(timeout=timeout) as client,
            connect_sse(client, "POST", f"{url.rstrip('/')}/v1/ask", json=payload) as source,
        ):
            response = source.response
            if response.status_code in (413, 422):
                raise InvalidRequest(_detail(response))
            if response.status_code != 200:
                raise RemoteServerError(f"{url} answered {_detail(response)}")
            for event in source.iter_sse():
                yield event.event, json.loads(event.data)
    except httpx.HTTPError as e:
        raise RemoteServerError(f"cannot reach {url}: {e}") from e


def answer_by_server(url: str, body: AskRequest, progress: Progress, timeout_s: float) -> Answer:
    """Ask the ragqa server at `url` (`/v1/ask`, streamed) instead of loading models."""
    from service.schemas import AskResponse

    progress.step(f"Asking {url}…")
    for event, data in _server_events(url, body, timeout_s):
        if event == "passages":
            progress.step("Writing the answer…")
        elif event == "token":
            progress.token()
        elif event == "done":
            done = AskResponse.model_validate(data)
            return Answer(done.answer, done.refused, list(done.citations), done.timings)
        elif event == "error":
            raise RemoteServerError(f"{url} failed: {data.get('detail')}")
    raise RemoteServerError(f"{url} ended the answer before it was complete")


def print_answer(answer: Answer, out: Console, *, verbose: bool) -> None:
    out.print(answer.text, markup=False, highlight=False)
    for c in answer.citations:
        out.print(f"[{c.n}] {c.title} ({c.doc_id}): {c.quote}", markup=False, highlight=False)
    if verbose:
        timings = ", ".join(f"{k} {v:.0f}" for k, v in answer.timings.items())
        err.print(f"timings: {timings}", markup=False, highlight=False)


def ask(
    question: Annotated[str, typer.Argument(help="The question, in any of the three scripts.")],
    top_k: Annotated[int | None, typer.Option(help="Passages given to the model.")] = None,
    url: Annotated[
        str | None,
        typer.Option(help="Ask the ragqa server at this URL instead of loading the models."),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show timings.")] = False,
) -> None:
    """Answer one question from the index and print the answer and its sources."""
    settings = Settings()
    try:
        body = checked_question(question, top_k, None if url else settings.max_question_chars)
    except (InvalidRequest, QuestionTooLong) as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(BAD_INPUT_EXIT) from e
    try:
        with Progress(err, verbose=verbose) as steps:
            if url:
                answer = answer_by_server(url, body, steps, settings.generation_timeout_s + 30)
            else:
                answer = answer_here(body, settings, steps)
    except InvalidRequest as e:  # the server's own limits are stricter than ours
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(BAD_INPUT_EXIT) from e
    except RagqaError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False)
        raise typer.Exit(1) from e
    print_answer(answer, Console(soft_wrap=True), verbose=verbose)
