"""Cited answers, whole or streamed as Server-Sent Events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request, Response
from sse_starlette.sse import EventSourceResponse

from service.answering import AskResult, DoneEvent, PassagesEvent, TokenEvent
from service.deps import AnswererDep, RateLimit, State
from service.docs import sse_content
from service.http_shared import (
    CLIENT_CLOSED_REQUEST,
    check_length,
    citation_out,
    event_stream,
    passage_out,
)
from service.schemas import (
    AskRequest,
    AskResponse,
    ErrorResponse,
    Usage,
)
from service.streaming import AskCall, StreamFailure, answer_whole, start_answer

router = APIRouter(tags=["ask"])


def to_call(body: AskRequest) -> AskCall:
    return AskCall(
        question=body.question,
        history=[t.model_dump() for t in body.history],
        top_k=body.top_k,
        max_tokens=body.max_tokens,
        temperature=None,
    )


def ask_response(result: AskResult) -> AskResponse:
    return AskResponse(
        answer=result.answer,
        refused=result.refused,
        citations=[citation_out(c) for c in result.citations],
        timings=result.timings,
        usage=Usage(
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.completion_tokens,
            cached_tokens=result.cached_tokens,
        ),
        support=result.support,
    )


_ERRORS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorResponse} for code in (403, 413, 422, 429, 503, 504)
}


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    responses={
        **_ERRORS,
        200: {
            "description": "The answer as JSON; with `stream: true`, Server-Sent Events instead: "
            "`passages` first (`PassagesEventData`; sent again, replacing the first, when the "
            "question is answered document by document), then `token` events (`TokenEventData`), "
            "then `done` with the whole checked answer (`AskResponse`, its citations "
            "renumbered 1, 2, …), or `error` (`ErrorEventData`) if the answer failed.",
            "content": sse_content(
                "PassagesEventData", "TokenEventData", "AskResponse", "ErrorEventData"
            ),
        },
    },
    dependencies=[RateLimit],
)
async def ask(
    body: AskRequest, answerer: AnswererDep, state: State, request: Request
) -> AskResponse | EventSourceResponse | Response:
    """Answer from the index. With `stream: true`, Server-Sent Events: `passages`, then
    `token` pieces, then `done` with the complete answer (or `error`)."""
    check_length(body.question, len(body.history), state)
    call = to_call(body)
    if not body.stream:
        result = await answer_whole(state, answerer, call, request)
        if result is None:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return ask_response(result)
    run = await start_answer(state, answerer, call)

    async def events() -> AsyncIterator[dict[str, str]]:
        async for event in run.events():
            match event:
                case PassagesEvent(passages=passages):
                    data = {"passages": [passage_out(p).model_dump() for p in passages]}
                    yield {"event": "passages", "data": json.dumps(data, ensure_ascii=False)}
                case TokenEvent(text=text):
                    yield {"event": "token", "data": json.dumps({"text": text}, ensure_ascii=False)}
                case DoneEvent(result=result):
                    yield {"event": "done", "data": ask_response(result).model_dump_json()}
                case StreamFailure(detail=detail):
                    yield {"event": "error", "data": json.dumps({"detail": detail})}

    return event_stream(run, events())
