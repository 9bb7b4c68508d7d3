"""OpenAI-compatible chat completions, answered from the index.

The last user message is the question and earlier messages are the history; system messages
from the client are ignored (ragqa's own rules apply). Beside the standard fields, the response
carries `references` (the cited passages) and `refused` (the documents do not hold the answer).
A stream sends the answer a checked sentence at a time, as `/v1/ask` does (the answerer's
`SentenceGate`); its `[n]` are passage numbers, and the final chunk's `references` use those
same numbers. `GET /v1/models` lists the one model, `ragqa`, which every
completion names whatever the request's `model` says.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request, Response
from sse_starlette.sse import EventSourceResponse

from ragqa.errors import InvalidRequest
from service.answering import AskResult, DoneEvent, TokenEvent
from service.deps import AnswererDep, RateLimit, State
from service.docs import sse_content
from service.http_shared import CLIENT_CLOSED_REQUEST, check_length, citation_out, event_stream
from service.openai_schemas import (
    MODEL_NAME,
    AssistantMessage,
    ChatChoice,
    ChatCompletion,
    ChatUsage,
    ModelCard,
    ModelList,
    PromptTokensDetails,
)
from service.schemas import ChatCompletionRequest, ErrorResponse
from service.streaming import AskCall, StreamFailure, answer_whole, start_answer

router = APIRouter(tags=["openai"])

_STARTED = int(time.time())


@router.get("/v1/models", response_model=ModelList)
async def list_models() -> ModelList:
    """The one model, `ragqa`: OpenAI clients list models before they chat."""
    return ModelList(data=[ModelCard(id=MODEL_NAME, created=_STARTED, owned_by="ragqa")])


def to_call(body: ChatCompletionRequest) -> AskCall:
    turns = [m for m in body.messages if m.role != "system"]
    if not turns or turns[-1].role != "user" or not turns[-1].content.strip():
        raise InvalidRequest("the last non-system message must be a non-empty user message")
    return AskCall(
        question=turns[-1].content.strip(),
        history=[{"role": m.role, "content": m.content} for m in turns[:-1] if m.content.strip()],
        top_k=None,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
    )


def _usage(result: AskResult) -> ChatUsage:
    return ChatUsage(
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        total_tokens=result.prompt_tokens + result.completion_tokens,
        prompt_tokens_details=(
            None
            if result.cached_tokens is None
            else PromptTokensDetails(cached_tokens=result.cached_tokens)
        ),
    )


def _streamed_references(result: AskResult) -> list[dict[str, Any]]:
    """Cited passages numbered as in the streamed text: by passage number."""
    by_chunk = {p.chunk_id: p.n for p in result.passages}
    return [
        {**citation_out(c).model_dump(), "n": by_chunk.get(c.chunk_id, c.n)}
        for c in result.citations
    ]


@router.post(
    "/v1/chat/completions",
    response_model=None,
    responses={
        200: {
            "model": ChatCompletion,
            "description": "A `chat.completion`, or with `stream: true` Server-Sent Events whose "
            "`data` is a `chat.completion.chunk` (the last one with `references`, `refused` "
            "and `usage`), then `[DONE]`.",
            "content": sse_content("ChatCompletionChunk"),
        },
        **{code: {"model": ErrorResponse} for code in (413, 422, 429, 503, 504)},
    },
    dependencies=[RateLimit],
)
async def chat_completions(
    body: ChatCompletionRequest, answerer: AnswererDep, state: State, request: Request
) -> ChatCompletion | EventSourceResponse | Response:
    """OpenAI's chat completion shape (stream or not) plus `references` and `refused`."""
    call = to_call(body)
    check_length(call.question, len(call.history), state)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    if not body.stream:
        result = await answer_whole(state, answerer, call, request)
        if result is None:
            return Response(status_code=CLIENT_CLOSED_REQUEST)
        return ChatCompletion(
            id=completion_id,
            object="chat.completion",
            created=created,
            model=MODEL_NAME,
            choices=[
                ChatChoice(
                    index=0,
                    message=AssistantMessage(content=result.answer),
                    finish_reason="stop",
                )
            ],
            usage=_usage(result),
            references=[citation_out(c) for c in result.citations],
            refused=result.refused,
        )
    run = await start_answer(state, answerer, call)

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:
        data = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": MODEL_NAME,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return {"data": json.dumps(data, ensure_ascii=False)}

    async def events() -> AsyncIterator[dict[str, str]]:
        yield chunk({"role": "assistant", "content": ""})
        async for event in run.events():
            match event:
                case TokenEvent(text=text):  # whole sentences, checked by the answerer
                    yield chunk({"content": text})
                case DoneEvent(result=result):
                    yield chunk(
                        {},
                        "stop",
                        references=_streamed_references(result),
                        refused=result.refused,
                        usage=_usage(result).model_dump(),
                    )
                case StreamFailure(detail=detail):
                    error = {"error": {"message": detail, "type": "server_error"}}
                    yield {"data": json.dumps(error)}
        yield {"data": "[DONE]"}

    return event_stream(run, events())
