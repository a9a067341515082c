"""Responses API events, as bytes: ``event: TYPE`` + ``data: {"type": TYPE, "sequence_number": N, …}``, no ``[DONE]``.

``ResponsesWriter`` has the methods of ``chunks.ChunkWriter`` that the server's stream calls
(``role`` opens the response, ``content``, ``finish`` ends it with the terminal event and usage),
plus ``reasoning`` (summary deltas) and ``tool_call`` / ``tool_args``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson


class ResponsesWriter:
    """Serialises one response's typed events, with the output items it has opened so far."""

    def __init__(self, response_id: str, model: str, summary: bool, reasoning: bool) -> None:
        self.id = response_id
        self.model = model
        self.summary = summary
        self.reasoning_item = reasoning
        self.created = int(time.time())
        self.seq = 0
        self.output: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None  # the item being streamed
        self._text: list[str] = []

    def _ev(self, kind: str, **data: Any) -> bytes:
        d = {"type": kind, "sequence_number": self.seq, **data}
        self.seq += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(d) + b"\n\n"

    def _response(self, status: str, **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": "response", "created_at": self.created, "status": status, "model": self.model,
                "output": self.output if status != "in_progress" else [], "usage": None, **extra}  # fmt: skip

    def role(self) -> bytes:
        """``response.created`` and ``response.in_progress``."""
        return self._ev("response.created", response=self._response("in_progress")) + self._ev("response.in_progress", response=self._response("in_progress"))

    def _close_item(self) -> bytes:
        item, self._open = self._open, None
        if item is None:
            return b""
        idx = len(self.output)
        out = b""
        if item["type"] == "message":
            text = "".join(self._text)
            part = {"type": "output_text", "text": text, "annotations": []}
            out += self._ev("response.output_text.done", item_id=item["id"], output_index=idx, content_index=0, text=text)
            out += self._ev("response.content_part.done", item_id=item["id"], output_index=idx, content_index=0, part=part)
            item = {**item, "status": "completed", "content": [part]}
        elif item["type"] == "reasoning" and self.summary:
            text = "".join(self._text)
            out += self._ev("response.reasoning_summary_text.done", item_id=item["id"], output_index=idx, summary_index=0, text=text)
            item = {**item, "summary": [{"type": "summary_text", "text": text}]}
        elif item["type"] == "function_call":
            out += self._ev("response.function_call_arguments.done", item_id=item["id"], output_index=idx, arguments="".join(self._text))
            item = {**item, "status": "completed", "arguments": "".join(self._text)}
        self.output.append(item)
        self._text = []
        return out + self._ev("response.output_item.done", output_index=idx, item=item)

    def _add(self, item: dict[str, Any]) -> bytes:
        out = self._close_item()
        self._open = item
        out += self._ev("response.output_item.added", output_index=len(self.output), item=item)
        if item["type"] == "message":
            out += self._ev("response.content_part.added", item_id=item["id"], output_index=len(self.output), content_index=0,
                            part={"type": "output_text", "text": "", "annotations": []})  # fmt: skip
        return out

    def reasoning(self, piece: str) -> bytes:
        """One reasoning token: opens the reasoning item (empty, as on the real service); a summary delta when asked and non-empty."""
        out = b""
        if self._open is None or self._open["type"] != "reasoning":
            out += self._add({"id": "rs_" + uuid.uuid4().hex[:24], "type": "reasoning", "summary": []})
        if self.summary and piece:
            self._text.append(piece)
            out += self._ev("response.reasoning_summary_text.delta", item_id=self._open["id"], output_index=len(self.output), summary_index=0, delta=piece)  # type: ignore[index]
        return out

    def content(self, piece: str) -> bytes:
        out = b""
        if self._open is None or self._open["type"] != "message":
            out += self._add({"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "status": "in_progress", "role": "assistant", "content": []})
        self._text.append(piece)
        return out + self._ev("response.output_text.delta", item_id=self._open["id"], output_index=len(self.output), content_index=0, delta=piece)  # type: ignore[index]

    def tool_args(self, piece: str, name: str = "search") -> bytes:
        out = b""
        if self._open is None or self._open["type"] != "function_call":
            out += self._add({"id": "fc_" + uuid.uuid4().hex[:24], "type": "function_call", "status": "in_progress",
                              "call_id": "call_" + uuid.uuid4().hex[:24], "name": name, "arguments": ""})  # fmt: skip
        self._text.append(piece)
        return out + self._ev("response.function_call_arguments.delta", item_id=self._open["id"], output_index=len(self.output), delta=piece)  # type: ignore[index]

    def finish(self, reason: str, prompt_tokens: int, output_tokens: int, reasoning_tokens: int) -> bytes:
        """The terminal event, with usage: ``response.completed``, or ``response.incomplete`` when cut by the budget or the filter."""
        out = self._close_item()
        usage = usage_dict(prompt_tokens, output_tokens, reasoning_tokens)
        if reason in ("length", "content_filter"):
            why = "max_output_tokens" if reason == "length" else "content_filter"
            return out + self._ev("response.incomplete", response=self._response("incomplete", usage=usage, incomplete_details={"reason": why}))
        return out + self._ev("response.completed", response=self._response("completed", usage=usage))

    def error_event(self, message: str, code: str | None = None) -> bytes:
        return self._ev("error", code=code, message=message, param=None)

    def full(self, text: str, reason: str, prompt_tokens: int, output_tokens: int, reasoning_tokens: int, summary: str,
             tool_args: str | None = None) -> dict[str, Any]:  # fmt: skip
        """A non-streaming response body."""
        if reasoning_tokens:
            self.output.append({"id": "rs_" + uuid.uuid4().hex[:24], "type": "reasoning",
                                "summary": [{"type": "summary_text", "text": summary}] if self.summary and summary else []})  # fmt: skip
        if text:
            self.output.append({"id": "msg_" + uuid.uuid4().hex[:24], "type": "message", "status": "completed", "role": "assistant",
                                "content": [{"type": "output_text", "text": text, "annotations": []}]})  # fmt: skip
        if tool_args is not None:
            self.output.append({"id": "fc_" + uuid.uuid4().hex[:24], "type": "function_call", "status": "completed",
                                "call_id": "call_" + uuid.uuid4().hex[:24], "name": "search", "arguments": tool_args})  # fmt: skip
        usage = usage_dict(prompt_tokens, output_tokens, reasoning_tokens)
        if reason == "length":
            return self._response("incomplete", usage=usage, incomplete_details={"reason": "max_output_tokens"})
        return self._response("completed", usage=usage)


def usage_dict(prompt_tokens: int, output_tokens: int, reasoning_tokens: int) -> dict[str, Any]:
    """Responses usage: ``output_tokens`` includes the reasoning tokens, as on the real service."""
    return {"input_tokens": prompt_tokens, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": output_tokens + reasoning_tokens,
            "output_tokens_details": {"reasoning_tokens": reasoning_tokens}, "total_tokens": prompt_tokens + output_tokens + reasoning_tokens}  # fmt: skip
