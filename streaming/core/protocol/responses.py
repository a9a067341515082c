"""The Responses API stream: typed events (``event:`` + ``data: {"type": …}``), ending in a terminal event, with no ``[DONE]``.

What each event does to the record (the ``RecordBuilder`` owns timing and status):

- ``response.created`` / ``response.in_progress``: ``response_id``;
- ``response.output_item.added``: a new function call counts in ``tool_calls``; a reasoning item is empty and stamps nothing;
- ``response.reasoning_summary_text.delta`` / ``response.reasoning_text.delta``: reasoning (the first stamps ``t_first_reasoning_s``);
- ``response.output_text.delta``: visible text (the first stamps TTFT; each is a chunk);
- ``response.refusal.delta``: visible text too (the user reads it), and the record says ``refusal``;
  ``response.refusal.done`` carries the whole refusal, shown only when no delta came before it;
- ``response.function_call_arguments.delta``: a tool-call delta (TTFT of a tool-call-only answer);
- ``response.completed``: the end; usage; ``finish_reason`` "stop" (or "tool_calls" when the answer is only calls);
- ``response.incomplete``: the end; ``incomplete_details.reason`` mapped by family (``finish.normalize``: xAI's
  ``REASON_MAX_LEN`` is "length") with the server's value kept in ``finish_reason_raw``;
- ``response.failed`` and ``error``: the end; status ``error`` with the server's message.

A stream that ends without a terminal event is ``interrupted`` (or ``error`` before any text). Other event
types (``response.content_part.added``, ``…done`` events, ``keepalive``, ``ping``) are ignored.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streaming.core.protocol import accounting

if TYPE_CHECKING:
    from streaming.core.protocol.sink import RecordSink as RecordBuilder  # the builder, as the parsers see it

TERMINAL = ("response.completed", "response.incomplete", "response.failed", "error")


def event(b: RecordBuilder, t: float, name: str, obj: dict[str, Any]) -> str | None:
    """One typed event; returns its visible text, if any."""
    rec = b.rec
    kind = obj.get("type") or name
    if kind == "response.output_text.delta":
        text = obj.get("delta")
        if isinstance(text, str) and text:
            b.on_content(t, text)
            return text
        return None
    if kind == "response.refusal.delta":
        text = obj.get("delta")
        if isinstance(text, str) and text:
            rec.refusal = True
            b.on_content(t, text)
            return text
        return None
    if kind == "response.refusal.done":
        text = obj.get("refusal")
        if isinstance(text, str) and text and not rec.refusal:  # no delta came before: the whole refusal at once
            rec.refusal = True
            b.on_content(t, text)
            return text
        return None
    if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        text = obj.get("delta")
        if isinstance(text, str):
            b.on_reasoning(t, text)
        return None
    if kind == "response.function_call_arguments.delta":
        b.on_tool_call(t, new_call=False)
        return None
    if kind == "response.output_item.added":
        item = obj.get("item")
        if isinstance(item, dict) and item.get("type") == "function_call":
            rec.tool_calls += 1
        return None
    if kind in ("response.created", "response.in_progress"):
        _response(b, obj.get("response"))
        return None
    if kind in ("response.completed", "response.incomplete"):
        _response(b, obj.get("response"))
        b.done = True
        return None
    if kind == "response.failed":
        resp = obj.get("response")
        _response(b, resp)
        err = resp.get("error") if isinstance(resp, dict) else None
        b.on_stream_error(err or {"message": "the response failed"})
        return None
    if kind == "error" or name == "error":
        b.on_stream_error(obj["error"] if isinstance(obj.get("error"), dict) else obj)
        return None
    return None


def _response(b: RecordBuilder, resp: Any) -> None:
    """The response object carried by created / in_progress / completed / incomplete / failed."""
    if not isinstance(resp, dict):
        return
    rec = b.rec
    if rec.response_id is None and resp.get("id"):
        rec.response_id = resp["id"]
    if resp.get("usage"):
        b.usage = resp["usage"]
    status = resp.get("status")
    if status == "completed":
        rec.finish_reason = "tool_calls" if rec.tool_calls and not b.parts else "stop"
    elif status == "incomplete":
        details = resp.get("incomplete_details") or {}
        reason = details.get("reason") if isinstance(details, dict) else None
        if reason:
            b.on_finish(reason)
        else:
            rec.finish_reason = "incomplete"


def body(b: RecordBuilder, obj: dict[str, Any]) -> None:
    """A whole non-streaming response: ``output`` items (message, reasoning, function_call) and usage."""
    rec = b.rec
    if obj.get("error"):
        b.on_stream_error(obj["error"])
        return
    for item in obj.get("output") or []:
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            for part in item.get("content") or []:
                if isinstance(part, dict) and part.get("type") == "output_text" and part.get("text"):
                    b.parts.append(part["text"])
                elif isinstance(part, dict) and part.get("type") == "refusal" and part.get("refusal"):
                    rec.refusal = True
                    b.parts.append(part["refusal"])
        elif item.get("type") == "reasoning":
            for part in item.get("summary") or []:
                if isinstance(part, dict) and part.get("text"):
                    b.reasoning_parts.append(part["text"])
        elif item.get("type") == "function_call":
            rec.tool_calls += 1
    _response(b, obj)
    rec.chunks = 1 if b.parts else 0


def usage(b: RecordBuilder, u: dict[str, Any]) -> None:
    """Usage onto the record (see ``accounting``: which convention the totals imply, and counting when there is no split)."""
    accounting.apply(b, accounting.from_responses(u))
