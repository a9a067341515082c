"""The request bodies the built-in server accepts (pydantic): every 4xx names the field."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TOKENS_CAP = 4096


class StreamOptions(BaseModel):
    include_usage: bool = False


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | list[Any] | None = None


class CommonRequest(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = ""
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CAP)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CAP)
    seed: int | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None


class ChatRequest(CommonRequest):
    messages: list[Message] = Field(min_length=1, max_length=1000)


class CompletionRequest(CommonRequest):
    prompt: str = Field(max_length=200_000)


class ReasoningOptions(BaseModel):
    effort: Literal["minimal", "low", "medium", "high"] | None = None
    summary: Literal["auto", "concise", "detailed"] | None = None


class ResponsesRequest(CommonRequest):
    """``POST /v1/responses``: ``input`` (a string or messages), ``max_output_tokens``, ``reasoning``."""

    input: str | list[Message] = Field(min_length=1)
    instructions: str | None = None
    max_output_tokens: int | None = Field(default=None, ge=1, le=MAX_TOKENS_CAP)
    reasoning: ReasoningOptions | None = None
