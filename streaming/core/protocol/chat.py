"""The Chat Completions and legacy Completions stream: ``data:`` chunks with ``choices``, ending in ``[DONE]``.

One function per event (``event``) and one for a non-streaming body (``body``); each
hands what it found to the ``RecordBuilder``, which owns the timing and the status.
Visible text is ``choices[0].delta.content`` (chat) or ``choices[0].text`` (completions).
Role-only chunks and Azure's empty-``choices`` prompt-filter chunk carry none, so they
never count as the first token. ``delta.reasoning_content`` (vLLM, DeepSeek, …) is reasoning,
not visible text; ``delta.tool_calls`` is a valid answer (``finish_reason: "tool_calls"``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streaming.core.protocol.sink import RecordSink as RecordBuilder  # the builder, as the parsers see it


def event(b: RecordBuilder, t: float, name: str, obj: dict[str, Any]) -> str | None:
    """One parsed SSE event; returns its visible text, if any."""
    rec = b.rec
    if name == "error" or "error" in obj:
        b.on_stream_error(obj.get("error", obj))
        return None
    if rec.response_id is None and obj.get("id"):
        rec.response_id = obj["id"]
    if obj.get("usage"):
        b.usage = obj["usage"]
    if "prompt_filter_results" in obj:
        rec.content_filter.append({"prompt": obj["prompt_filter_results"]})
    choices = obj.get("choices")
    if not choices:
        return None
    choice = choices[0]
    delta = choice.get("delta")
    content = delta.get("content") if isinstance(delta, dict) else choice.get("text")
    if choice.get("finish_reason"):
        rec.finish_reason = choice["finish_reason"]
    if isinstance(delta, dict):
        thought = delta.get("reasoning_content") or delta.get("reasoning")
        if isinstance(thought, str) and thought:
            b.on_reasoning(t, thought)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    b.on_tool_call(t, new_call=bool(call.get("id")))
    cfr = choice.get("content_filter_results")
    if cfr and any(isinstance(v, dict) and v.get("filtered") for v in cfr.values()):
        rec.content_filter.append({"output": cfr})
    if content:
        b.on_content(t, content)
        return content
    return None


def body(b: RecordBuilder, obj: dict[str, Any]) -> None:
    """A whole non-streaming response."""
    rec = b.rec
    rec.response_id = obj.get("id")
    b.usage = obj.get("usage") or None
    choices = obj.get("choices") or []
    if choices:
        c = choices[0]
        msg = c.get("message")
        text = (msg.get("content") if isinstance(msg, dict) else c.get("text")) or ""
        b.parts.append(text)
        if isinstance(msg, dict):
            rec.tool_calls = len(msg.get("tool_calls") or [])
            thought = msg.get("reasoning_content")
            if isinstance(thought, str):
                b.reasoning_parts.append(thought)
        rec.finish_reason = c.get("finish_reason")
        rec.chunks = 1 if text else 0


def usage(b: RecordBuilder, u: dict[str, Any]) -> None:
    """``usage.completion_tokens`` / ``prompt_tokens`` onto the record; visible output = completion − reasoning tokens."""
    rec = b.rec
    details = u.get("completion_tokens_details") or {}
    if isinstance(details, dict) and details.get("reasoning_tokens") is not None:
        rec.reasoning_tokens = int(details["reasoning_tokens"])
    cached = u.get("prompt_tokens_details") or {}
    if isinstance(cached, dict) and cached.get("cached_tokens") is not None:
        rec.cached_tokens = int(cached["cached_tokens"])
    if u.get("completion_tokens") is not None:
        rec.output_tokens = max(0, int(u["completion_tokens"]) - (rec.reasoning_tokens or 0))
        rec.input_tokens = u.get("prompt_tokens")
        rec.tokens_source = "usage"
