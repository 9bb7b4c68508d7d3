"""What the answering routes share: request limits, domain types as response schemas, and
Server-Sent Events tied to the answer they stream."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from sse_starlette.sse import EventSourceResponse

from ragqa.errors import InvalidRequest, QuestionTooLong
from service.passages import Citation, Passage
from service.schemas import CitationOut, PassageOut
from service.state import AppState
from service.streaming import AnswerRun

# Status for a request whose client left before its answer was ready (nobody reads it).
CLIENT_CLOSED_REQUEST = 499


def event_stream(run: AnswerRun, events: AsyncIterator[dict[str, str]]) -> EventSourceResponse:
    """SSE over `events`; a client that disconnects stops the run, even before it is read."""

    async def on_disconnect(_: Any) -> None:
        run.close()

    return EventSourceResponse(events, ping=15, client_close_handler_callable=on_disconnect)


def check_length(question: str, history_len: int, state: AppState) -> None:
    limit = state.settings.max_question_chars
    if len(question) > limit:
        raise QuestionTooLong(len(question), limit)
    if history_len > 2 * state.settings.max_history_turns:
        raise InvalidRequest(
            f"history has {history_len} messages; the limit is "
            f"{2 * state.settings.max_history_turns} ({state.settings.max_history_turns} turns)"
        )


def citation_out(c: Citation) -> CitationOut:
    return CitationOut.model_validate(c, from_attributes=True)


def passage_out(p: Passage) -> PassageOut:
    return PassageOut.model_validate(p, from_attributes=True)
