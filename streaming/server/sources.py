"""What the built-in server's routes share besides the app: token sources' events, faults to inject, reasoning rejections."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import HTTPException
from fastapi.responses import JSONResponse

from streaming.core.config import Fault, SimProfile
from streaming.server.errors import error_response
from streaming.server.models import (
    CommonRequest,
)
from streaming.server.truth import Truth

log = logging.getLogger("streaming.server")

def pick_fault(state: Any, model: str, profile: SimProfile, header: str | None) -> Fault | None:
    if header:
        try:
            data = orjson.loads(header) if header.lstrip().startswith("{") else {"kind": header.strip()}
            return Fault.from_dict(data, "x-sim-fault header")
        except Exception as e:
            raise HTTPException(status_code=400, detail=f"header 'x-sim-fault': {e}") from None
    n = state.counts[model]
    for f in profile.faults:
        if (f.every and n % f.every == 0) or (f.probability and state.rng.random() < f.probability):
            return f
    return None


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


def approx_tokens(body: CommonRequest, api: str) -> int:
    if api == "chat":
        text = " ".join(str(m.content or "") for m in body.messages)  # type: ignore[attr-defined]
    elif api == "responses":
        given = body.input  # type: ignore[attr-defined]
        text = given if isinstance(given, str) else " ".join(str(m.content or "") for m in given)
    else:
        text = body.prompt  # type: ignore[attr-defined]
    return max(1, len(text.split()))
