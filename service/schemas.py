"""Typed request and response bodies of every route (unknown fields are rejected)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.retrieval import RetrievalMode

# C0/C1 control characters other than tab and newlines never belong in a question.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A hard ceiling before the configured limit is checked, so huge bodies die in validation.
HARD_TEXT_LIMIT = 100_000


def _no_control_characters(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _clean_text(value: str) -> str:
    _no_control_characters(value)
    if not value.strip():
        raise ValueError("must not be empty or whitespace")
    return value.strip()


class Strict(BaseModel):
    """Request bodies: unknown fields and type coercion ("5" for 5, "yes" for true) refused."""

    model_config = ConfigDict(extra="forbid", strict=True, str_max_length=HARD_TEXT_LIMIT)


class Turn(Strict):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1, max_length=HARD_TEXT_LIMIT)]

    _content = field_validator("content")(_clean_text)


class SearchRequest(Strict):
    query: str = Field(description="The search text, any of the three scripts.")
    top_k: int | None = Field(
        None, ge=1, le=50, description="Results to return; omitted: the server's RAGQA_TOP_K."
    )
    mode: RetrievalMode = Field("hybrid", description="dense, lexical or hybrid.")
    cross_lingual: bool = Field(
        False,
        description="Also search the query's translations into the collection's other "
        "languages: finds documents in another language, but costs a model call (a second or "
        "more while answers generate), so search stays the cheap route unless asked. /v1/ask "
        "always translates as RAGQA_CROSS_LINGUAL says.",
    )
    history: list[Turn] = Field(
        default_factory=list,
        max_length=200,
        description="Earlier turns: a follow-up is searched with the previous user question.",
    )

    _query = field_validator("query")(_clean_text)


class SearchResult(BaseModel):
    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float
    start: int
    end: int


class SearchResponse(BaseModel):
    results: list[SearchResult]


class AskRequest(Strict):
    question: str
    top_k: int | None = Field(None, ge=1, le=50, description="Passages given to the model.")
    history: list[Turn] = Field(default_factory=list, max_length=200)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)

    _question = field_validator("question")(_clean_text)


class CitationOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    title: str
    quote: str
    start: int
    end: int
    score: float
    url: str | None = None


class PassageOut(BaseModel):
    n: int
    doc_id: str
    chunk_id: str
    title: str
    text: str
    score: float
    start: int
    end: int
    url: str | None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int


class AskResponse(BaseModel):
    answer: str
    refused: bool
    citations: list[CitationOut]
    timings: dict[str, float]
    usage: Usage


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]]


class EngineOut(BaseModel):
    """The generation engine's state, as its supervisor sees it."""

    state: Literal["starting", "ready", "restarting", "failed", "stopped"]
    detail: str = Field(description="Why it is not ready, when it is not.")
    restarts: int = Field(description="Times it was restarted after a crash or hang.")
    model: str
    kind: Literal["llama.cpp", "openai"]
    embedded: bool = Field(description="Started and supervised by this service.")


class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "failed", "unavailable"]
    detail: str | None = None
    engine: EngineOut | None = None


class DocumentInfo(BaseModel):
    doc_id: str
    title: str
    date: str
    source: str
    url: str | None = None
    language: str
    n_chunks: int
    content_hash: str


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class DocumentDetail(DocumentInfo):
    text: str


class DocumentText(Strict):
    """A document sent as JSON text instead of a file upload."""

    doc_id: str = Field(min_length=1, max_length=255, description="File name to store it as.")
    text: str
    title: str | None = Field(None, max_length=500)

    _text = field_validator("text")(_clean_text)


class UpdateResponse(BaseModel):
    added: list[str]
    removed: list[str]
    unchanged: list[str]
    chunks: int


# --- OpenAI-compatible chat completions ---------------------------------------------------


class ChatMessageIn(Strict):
    """One OpenAI message; empty content is allowed (clients send it), control characters not."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=HARD_TEXT_LIMIT)

    _content = field_validator("content")(_no_control_characters)


class ChatCompletionRequest(BaseModel):
    """OpenAI's request shape; extra OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    model: str | None = None
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
