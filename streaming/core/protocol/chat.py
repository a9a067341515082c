"""The Chat Completions and legacy Completions stream: ``data:`` chunks with ``choices``, ending in ``[DONE]``.

One function per event (``event``) and one for a non-streaming body (``body``); each
hands what it found to the ``RecordBuilder``, which owns the timing and the status.
Visible text is ``choices[0].delta.content`` (chat) or ``choices[0].text`` (completions);
``content`` may be a string or a list of typed parts (Mistral and others): ``text`` parts
are visible, ``thinking`` / ``reasoning`` parts are reasoning. ``delta.refusal`` is visible
too (the user reads it) and marks the record ``refusal``. Role-only chunks and Azure's
empty-``choices`` prompt-filter chunk carry none, so they never count as the first token.
``delta.reasoning_content`` (vLLM, DeepSeek, llama.cpp, …) and ``delta.reasoning`` (Groq,
OpenRouter) are reasoning, not visible text; ``delta.tool_calls`` is a valid answer
(``finish_reason: "tool_calls"``). ``"error": null`` is no error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from streaming.core.protocol import accounting

if TYPE_CHECKING:
    from streaming.core.protocol.sink import RecordSink as RecordBuilder  # the builder, as the parsers see it

TEXT_PARTS = frozenset({"text", "output_text"})
THINKING_PARTS = frozenset({"thinking", "reasoning", "reasoning_text"})


def _part_text(v: Any) -> str:
    """The text of a part's payload: a string, or a list of ``{type: "text", text}`` parts (Mistral's ``thinking``)."""
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return "".join(p["text"] for p in v if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


def split_content(content: Any) -> tuple[str, str, str]:
    """(visible text, reasoning text, refusal text) of a ``content`` value: a string or a list of typed parts."""
    if isinstance(content, str):
        return content, "", ""
    if not isinstance(content, list):
        return "", "", ""
    text, thought, refusal = [], [], []
    for part in content:
        if isinstance(part, str):
            text.append(part)
            continue
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind in TEXT_PARTS:
            text.append(_part_text(part.get("text")))
        elif kind in THINKING_PARTS:
            thought.append(_part_text(part.get(kind)) or _part_text(part.get("text")))
        elif kind == "refusal":
            refusal.append(_part_text(part.get("refusal")))
    return "".join(text), "".join(thought), "".join(refusal)


def event(b: RecordBuilder, t: float, name: str, obj: dict[str, Any]) -> str | None:
    """One parsed SSE event; returns its visible text, if any."""
    rec = b.rec
    err = obj.get("error")
    if err or name == "error":
        b.on_stream_error(err or obj)
        return None
    if rec.response_id is None and obj.get("id"):
        rec.response_id = obj["id"]
    if obj.get("usage"):
        b.usage = obj["usage"]
    if "prompt_filter_results" in obj:
        rec.content_filter.append({"prompt": obj["prompt_filter_results"]})
    choices = obj.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    delta = choice.get("delta")
    if choice.get("finish_reason"):
        b.on_finish(choice["finish_reason"])
    if isinstance(delta, dict):
        text, thought, refusal = split_content(delta.get("content"))
        for key in ("reasoning_content", "reasoning"):
            if isinstance(delta.get(key), str):
                thought += delta[key]
        if isinstance(delta.get("refusal"), str):
            refusal += delta["refusal"]
        if thought:
            b.on_reasoning(t, thought)
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                if isinstance(call, dict):
                    b.on_tool_call(t, new_call=bool(call.get("id")))
    else:
        text, refusal = choice.get("text") if isinstance(choice.get("text"), str) else "", ""
    cfr = choice.get("content_filter_results")
    if isinstance(cfr, dict) and any(isinstance(v, dict) and v.get("filtered") for v in cfr.values()):
        rec.content_filter.append({"output": cfr})
    if refusal:
        rec.refusal = True
    visible = text + refusal
    if visible:
        b.on_content(t, visible)
        return visible
    return None


def body(b: RecordBuilder, obj: dict[str, Any]) -> None:
    """A whole non-streaming response."""
    rec = b.rec
    if obj.get("error"):
        b.on_stream_error(obj["error"])
        return
    rec.response_id = obj.get("id")
    b.usage = obj.get("usage") or None
    choices = obj.get("choices") or []
    if choices and isinstance(choices[0], dict):
        c = choices[0]
        msg = c.get("message")
        if isinstance(msg, dict):
            text, thought, refusal = split_content(msg.get("content"))
            refusal += msg["refusal"] if isinstance(msg.get("refusal"), str) else ""
            rec.tool_calls = len(msg.get("tool_calls") or [])
            for key in ("reasoning_content", "reasoning"):
                if isinstance(msg.get(key), str):
                    thought += msg[key]
            if thought:
                b.reasoning_parts.append(thought)
        else:
            text, refusal = (c.get("text") if isinstance(c.get("text"), str) else ""), ""
        rec.refusal = bool(refusal)
        text += refusal
        b.parts.append(text)
        b.on_finish(c.get("finish_reason"))
        rec.chunks = 1 if text else 0


def usage(b: RecordBuilder, u: dict[str, Any]) -> None:
    """Usage onto the record (see ``accounting``: which convention the totals imply, and counting when there is no split)."""
    accounting.apply(b, accounting.from_chat(u))
