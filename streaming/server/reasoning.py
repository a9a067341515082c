"""What the built-in server needs for reasoning models and tool calls: the source's phases as events, the truth's
reasoning times, the parameters a reasoning model refuses (as the real services answer), a tool call's arguments."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.responses import JSONResponse

from streaming.server.errors import error_response
from streaming.server.models import CommonRequest
from streaming.server.truth import Truth


class ReasoningText(str):
    """A reasoning delta's text: ``TimedStream`` stamps it into the truth's reasoning times, not its content chunks."""

    reasoning = True


async def source_events(source: Any, start: float) -> AsyncIterator[tuple[str, str]]:
    """("reasoning" | "text", piece) from a source: the simulator's thinking phase and answer, or the local model's tokens."""
    if hasattr(source, "events"):
        async for item in source.events(start):
            yield item
    else:
        async for piece in source.tokens(start):
            yield "text", piece


def note_thinking(tr: Truth, source: Any) -> None:
    """The source's thinking phase into the truth: reasoning tokens, when it started and ended."""
    if getattr(source, "reasoning_limit", 0):
        tr.reasoning_tokens = source.reasoning_generated
        tr.thinking_started_at = source.thinking_started_at
        tr.thinking_ended_at = source.thinking_ended_at


def tool_arguments(text: str) -> str:
    return orjson.dumps({"query": text}).decode()


def reasoning_rejection(body: CommonRequest, api: str) -> JSONResponse | None:
    """What a reasoning model answers to the parameters it refuses, as the real services do (400, naming the parameter)."""
    if api != "responses" and body.max_tokens is not None:
        return error_response(400, "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.",
                              param="max_tokens", code="unsupported_parameter")  # fmt: skip
    if body.temperature is not None and body.temperature != 1:
        if api == "responses":
            return error_response(400, "Unsupported parameter: 'temperature' is not supported with this model.", param="temperature",
                                  code="unsupported_parameter")  # fmt: skip
        return error_response(400, f"Unsupported value: 'temperature' does not support {body.temperature:g} with this model. Only the default (1) value is supported.",
                              param="temperature", code="unsupported_value")  # fmt: skip
    return None
