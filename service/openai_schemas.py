"""Response bodies of the OpenAI-compatible routes (`/v1/models`, `/v1/chat/completions`).

They follow OpenAI's shapes so that its clients parse them; `references` and `refused` are
ragqa's additions, which OpenAI clients keep as extra fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from service.schemas import CitationOut

# The one model clients see: the assistant (retrieval, generation and citation checks), not
# the language model file behind it, which may change without clients having to.
MODEL_NAME = "ragqa"


class ModelCard(BaseModel):
    """One model, as `GET /v1/models` lists it."""

    id: str = Field(description="The name to send as `model`.", examples=[MODEL_NAME])
    object: Literal["model"] = Field("model", description="Always `model`.")
    created: int = Field(description="Unix time the server started.", examples=[1764600000])
    owned_by: str = Field(description="Who serves the model.", examples=["ragqa"])


class ModelList(BaseModel):
    """OpenAI's model list: clients such as Open WebUI read it before they chat."""

    object: Literal["list"] = Field("list", description="Always `list`.")
    data: list[ModelCard] = Field(description="The models this server answers as (one).")


class PromptTokensDetails(BaseModel):
    cached_tokens: int = Field(description="Prompt tokens the engine reused from its KV cache.")


class ChatUsage(BaseModel):
    prompt_tokens: int = Field(description="Tokens of the prompt, passages included.")
    completion_tokens: int = Field(description="Tokens generated.")
    total_tokens: int = Field(description="Their sum.")
    prompt_tokens_details: PromptTokensDetails | None = Field(
        default=None, description="Present when the engine reports its KV-cache reuse."
    )


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = Field("assistant", description="Always `assistant`.")
    content: str = Field(
        description="The answer; `[n]` markers cite the `references` with that `n`.",
        examples=["The forum was held in Taiyuan [1]."],
    )


class ChatChoice(BaseModel):
    index: int = Field(description="Always 0: one answer per request.")
    message: AssistantMessage = Field(description="The assistant's answer.")
    finish_reason: Literal["stop"] = Field(description="Always `stop`.")


class ChatCompletion(BaseModel):
    """A whole answer in OpenAI's chat completion shape, plus `references` and `refused`."""

    id: str = Field(description="Unique id of this completion.", examples=["chatcmpl-1f0c"])
    object: Literal["chat.completion"] = Field(description="Always `chat.completion`.")
    created: int = Field(description="Unix time the request arrived.")
    model: str = Field(description=f"Always `{MODEL_NAME}`.", examples=[MODEL_NAME])
    choices: list[ChatChoice] = Field(description="Exactly one choice.")
    usage: ChatUsage = Field(description="Token counts of this request.")
    references: list[CitationOut] = Field(
        description="The passages the answer cites, numbered as its `[n]` markers."
    )
    refused: bool = Field(
        description="True when the documents do not contain the answer and the content says "
        "so instead of answering."
    )


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = Field(None, description="In the first chunk only.")
    content: str | None = Field(None, description="The next piece of the answer.")


class ChunkChoice(BaseModel):
    index: int = Field(description="Always 0.")
    delta: ChunkDelta = Field(description="What this chunk adds.")
    finish_reason: Literal["stop"] | None = Field(
        description="`stop` in the final chunk, null before it."
    )


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion; the stream ends with `data: [DONE]`.

    The final chunk (`finish_reason: stop`) also carries `references`, `refused` and `usage`.
    Streamed `[n]` markers are passage numbers, and that chunk's `references` use the same.
    """

    id: str = Field(description="The same in every chunk of a completion.")
    object: Literal["chat.completion.chunk"] = Field(description="Always the same.")
    created: int = Field(description="Unix time the request arrived.")
    model: str = Field(description=f"Always `{MODEL_NAME}`.", examples=[MODEL_NAME])
    choices: list[ChunkChoice] = Field(description="Exactly one choice.")
    references: list[CitationOut] | None = Field(
        None, description="Final chunk only: the cited passages."
    )
    refused: bool | None = Field(
        None, description="Final chunk only: true when the documents do not contain the answer."
    )
    usage: ChatUsage | None = Field(None, description="Final chunk only: token counts.")
