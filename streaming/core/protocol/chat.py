"""The Chat Completions and legacy Completions stream: ``data:`` chunks with ``choices``, ending in ``[DONE]``.

One function per event (``event``) and one for a non-streaming body (``body``); each
hands what it found to the ``RecordBuilder``, which owns the timing and the status.
Visible text is ``choices[0].delta.content`` (chat) or ``choices[0].text`` (completions).
Role-only chunks and Azure's empty-``choices`` prompt-filter chunk carry none, so they
never count as the first token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streaming.core.protocol.builder import RecordBuilder


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
        rec.finish_reason = c.get("finish_reason")
        rec.chunks = 1 if text else 0


def usage(b: RecordBuilder, u: dict[str, Any]) -> None:
    """``usage.completion_tokens`` / ``prompt_tokens`` onto the record."""
    rec = b.rec
    if u.get("completion_tokens") is not None:
        rec.output_tokens = int(u["completion_tokens"])
        rec.input_tokens = u.get("prompt_tokens")
        rec.tokens_source = "usage"
