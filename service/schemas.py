"""Typed request and response bodies of every route (unknown fields are rejected)."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ragqa.types import RetrievalMode

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
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"] = Field(description="Who said it.")
    content: Annotated[str, Field(min_length=1, max_length=HARD_TEXT_LIMIT)] = Field(
        description="What was said (not empty)."
    )

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
        description='Earlier turns: a query that refers back to them ("it", "that '
        'meeting", 那次, "he") or names nothing of its own is searched within the document '
        'the conversation\'s subject question finds first, its "he" read as the person the '
        "last exchange named.",
    )

    _query = field_validator("query")(_clean_text)


_DOC_ID = Field(description="The document's id: its path in the collection folder.")
_CHUNK_ID = Field(description="The passage's id: the document's id, `#` and its number.")
_TITLE = Field(description="The document's title.")
_START = Field(description="Where the text starts in the document's cleaned text (characters).")
_END = Field(description="Where the text ends in the document's cleaned text (characters).")
_SCORE = Field(description="Relevance to the question (higher is closer; for ordering only).")
_URL = Field(None, description="Where the document lives, when its metadata says so.")
_VIEW_URL = Field(
    None,
    description="The document as a page with this text highlighted: "
    "`/v1/documents/{doc_id}/view?start=…&end=…#cited`, relative to the API's base URL.",
    examples=["/v1/documents/000_09db86074c66971f.txt/view?start=0&end=42#cited"],
)


class PassageFields(BaseModel):
    """A passage of a document as every response shows it (the fields of `index.documents.Chunk`
    and its score); the passage schemas below add only what they know."""

    doc_id: str = _DOC_ID
    chunk_id: str = _CHUNK_ID
    title: str = _TITLE
    score: float = _SCORE
    start: int = _START
    end: int = _END


class SearchResult(PassageFields):
    """One passage found."""

    text: str = Field(description="The passage's text.")


class SearchResponse(BaseModel):
    results: list[SearchResult] = Field(description="Passages, the most relevant first.")


class AskRequest(Strict):
    question: str = Field(
        description="The question, in simplified or traditional Chinese or English; the "
        "answer comes in the same.",
        examples=["第二届分子影像高峰论坛在哪里举办？"],
    )
    top_k: int | None = Field(None, ge=1, le=50, description="Passages given to the model.")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=200,
        description="Earlier turns, oldest first: they choose where a follow-up is searched "
        'and whom its "he" means; the model is not shown them.',
    )
    stream: bool = Field(
        False, description="Answer as Server-Sent Events (`passages`, `token`, `done`)."
    )
    max_tokens: int | None = Field(
        None, ge=1, le=4096, description="Answer length limit; omitted: RAGQA_MAX_TOKENS."
    )

    _question = field_validator("question")(_clean_text)


class CitationOut(PassageFields):
    """A passage the answer cites, with the sentence of it that supports the answer; `start`
    and `end` are the quote's."""

    n: int = Field(description="The number the answer's `[n]` markers cite it by.", examples=[1])
    quote: str = Field(description="The supporting text, exactly as in the document.")
    url: str | None = _VIEW_URL


class PassageOut(PassageFields):
    """A passage given to the model, numbered as the prompt and the streamed text number it."""

    n: int = Field(description="Its number in the prompt.", examples=[1])
    text: str = Field(description="The passage's text.")
    url: str | None = _VIEW_URL


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of the prompt, passages included.")
    completion_tokens: int = Field(description="Tokens generated.")
    cached_tokens: int | None = Field(
        default=None,
        description="Prompt tokens the engine reused from its KV cache, when it reports them.",
    )


class AskResponse(BaseModel):
    """A cited answer; also the `data` of the stream's `done` event."""

    answer: str = Field(
        description="The answer; each `[n]` cites the citation with that `n`.",
        examples=["第二届论坛在太原举办[1]。"],
    )
    refused: bool = Field(
        description="True when the documents do not contain the answer: `answer` says so "
        "and `citations` is empty."
    )
    citations: list[CitationOut] = Field(description="The cited passages, numbered 1, 2, …")
    timings: dict[str, float] = Field(
        description="Milliseconds per stage (`retrieve_ms`, `ttft_ms`, `generate_ms`, "
        "`total_ms`, …).",
        examples=[{"retrieve_ms": 35.2, "ttft_ms": 812.0, "total_ms": 4310.5}],
    )
    usage: Usage = Field(description="Token counts.")
    support: float | None = Field(
        None,
        description="The model's probability that the passages answer the question, judged "
        "before it answered; below the server's `support_threshold` the question is refused. "
        "Null when the server does not judge (the setting is unset, or its engine gives no "
        "token probabilities) or the model was not asked.",
        examples=[0.87],
    )


class PassagesEventData(BaseModel):
    """`event: passages`, first: the passages the answer is written from."""

    passages: list[PassageOut] = Field(description="Numbered as the streamed `[n]` markers.")


class TokenEventData(BaseModel):
    """`event: token`, repeated: the next piece of the answer, a sentence at a time, each
    released only once it has passed the answer checks."""

    text: str = Field(description="Text to append; `[n]` are passage numbers.")


class ErrorEventData(BaseModel):
    """`event: error`, last: the answer failed after the stream began (time limit, model)."""

    detail: str = Field(description="What went wrong.")


class ErrorResponse(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="Why the request failed; for a 422, one entry (`loc`, `msg`, `type`) per "
        "field that failed."
    )


class EngineOut(BaseModel):
    """The generation engine's state, as its supervisor sees it."""

    state: Literal["starting", "ready", "restarting", "failed", "stopped"] = Field(
        description="`ready` once its self-test passed; answers get 503 in the other states."
    )
    detail: str = Field(description="Why it is not ready, when it is not.")
    restarts: int = Field(description="Times it was restarted after a crash or hang.")
    model: str = Field(description="The model name the engine serves.")
    kind: Literal["llama.cpp", "openai"] = Field(
        description="llama.cpp's server, or another OpenAI-compatible engine."
    )
    embedded: bool = Field(description="Started and supervised by this service.")


class HealthResponse(BaseModel):
    status: Literal["ok", "loading", "warming", "failed", "unavailable"] = Field(
        description="`ok` once ready; `warming` while the fixed prompt preambles are first read;"
        " `unavailable` while the generation engine restarts."
    )
    detail: str | None = Field(None, description="Why it is not ok, when known.")
    engine: EngineOut | None = Field(
        None, description="The generation engine, when the service uses one."
    )


class DocumentInfo(BaseModel):
    doc_id: str = _DOC_ID
    title: str = _TITLE
    date: str = Field(description="Its date as its metadata give it, or empty.")
    source: str = Field(description="Where it came from (a site or a file name).")
    url: str | None = _URL
    language: str = Field(description="Its main script: `zh` or `en`.")
    n_chunks: int = Field(description="Passages it was split into.")
    content_hash: str = Field(description="SHA-256 of the file's bytes.")


class DocumentList(BaseModel):
    documents: list[DocumentInfo] = Field(description="Every indexed document, by id.")


class DocumentDetail(DocumentInfo):
    text: str = Field(description="The cleaned text that offsets point into.")


class DocumentText(Strict):
    """A document sent as JSON text instead of a file upload."""

    doc_id: str = Field(min_length=1, max_length=255, description="File name to store it as.")
    text: str = Field(description="The document's text.")
    title: str | None = Field(
        None, max_length=500, description="A title, stored as its first line."
    )

    _text = field_validator("text")(_clean_text)


class UpdateResponse(BaseModel):
    added: list[str] = Field(description="Ids of documents added or replaced.")
    removed: list[str] = Field(description="Ids of documents removed.")
    unchanged: list[str] = Field(description="Ids of documents already indexed as they are.")
    chunks: int = Field(description="Passages indexed by this change.")


class FeedbackCitation(Strict):
    """A citation of the rated answer, as the answer gave it."""

    n: int = Field(ge=1, le=1000, description="Its number in the answer.")
    doc_id: str = Field(min_length=1, max_length=1000, description="The document's id.")
    title: str = Field("", max_length=1000, description="The document's title.")
    quote: str = Field("", max_length=10_000, description="The quoted text.")
    start: int | None = Field(None, ge=0, description="The quote's start in the document.")
    end: int | None = Field(None, ge=0, description="The quote's end in the document.")


class FeedbackRequest(Strict):
    """A reader's rating of one answer, with what was asked and answered."""

    question: str = Field(description="The question that was answered.")
    answer: str = Field(min_length=1, description="The answer as shown, `[n]` markers included.")
    rating: Literal["up", "down"] = Field(description="`up`: helpful; `down`: wrong or unhelpful.")
    comment: str = Field("", max_length=2000, description="What was wrong or right (optional).")
    citations: list[FeedbackCitation] = Field(
        default_factory=list, max_length=50, description="The answer's citations."
    )
    refused: bool = Field(False, description="The answer said the documents do not tell.")
    history: list[Turn] = Field(
        default_factory=list, max_length=200, description="Earlier turns, oldest first."
    )

    _question = field_validator("question")(_clean_text)
    _answer = field_validator("answer", "comment")(_no_control_characters)


class FeedbackResponse(BaseModel):
    id: int = Field(description="The stored rating's id.")


# --- OpenAI-compatible chat completions ---------------------------------------------------


class ChatMessageIn(Strict):
    """One OpenAI message; empty content is allowed (clients send it), control characters not."""

    role: Literal["system", "user", "assistant"] = Field(
        description="`system` messages are ignored: ragqa's own rules apply."
    )
    content: str = Field(max_length=HARD_TEXT_LIMIT, description="The message's text.")

    _content = field_validator("content")(_no_control_characters)


class ChatCompletionRequest(BaseModel):
    """OpenAI's request shape; extra OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[ChatMessageIn] = Field(
        min_length=1,
        max_length=200,
        description="The conversation; the last one must be the user's question.",
    )
    model: str | None = Field(None, description="Ignored: the one model is `ragqa`.")
    stream: bool = Field(False, description="Stream `chat.completion.chunk` events.")
    max_tokens: int | None = Field(None, ge=1, le=4096, description="Answer length limit.")
    temperature: float | None = Field(
        None, ge=0.0, le=2.0, allow_inf_nan=False, description="Sampling temperature."
    )
