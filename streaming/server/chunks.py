"""OpenAI- and Azure-shaped SSE chunks, as bytes.

Content chunks are built from a per-response template plus ``orjson.dumps(text)``:
the server writes thousands of them a second under load, so no dict is built per token.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

SAFE_FILTER = {
    "hate": {"filtered": False, "severity": "safe"},
    "self_harm": {"filtered": False, "severity": "safe"},
    "sexual": {"filtered": False, "severity": "safe"},
    "violence": {"filtered": False, "severity": "safe"},
}


def sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


DONE = b"data: [DONE]\n\n"


class ChunkWriter:
    """Serialises one response's chunks for the chat or completions API, OpenAI or Azure flavour."""

    def __init__(self, response_id: str, model: str, api: str, azure: bool, include_usage: bool) -> None:
        self.id = response_id
        self.model = model
        self.api = api
        self.azure = azure
        self.include_usage = include_usage
        self.created = int(time.time())
        self.object = "chat.completion.chunk" if api == "chat" else "text_completion"
        usage = ',"usage":null' if include_usage else ""
        head = (
            f'data: {{"id":"{response_id}","object":"{self.object}","created":{self.created},'
            f'"model":{orjson.dumps(model).decode()},"system_fingerprint":null,"choices":[{{"index":0,'
        )
        cf = ',"content_filter_results":' + orjson.dumps(SAFE_FILTER).decode() if azure else ""
        if api == "chat":
            self._pre = (head + '"delta":{"content":').encode()
            self._post = ('},"logprobs":null,"finish_reason":null' + cf + "}]" + usage + "}\n\n").encode()
        else:
            self._pre = (head + '"text":').encode()
            self._post = (',"logprobs":null,"finish_reason":null' + cf + "}]" + usage + "}\n\n").encode()

    def _base(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "object": self.object, "created": self.created, "model": self.model, "system_fingerprint": None}
        return d

    def prompt_filter(self) -> bytes:
        """Azure's first chunk: no choices, only the prompt's filter results."""
        return sse({"choices": [], "created": 0, "id": "", "model": "", "object": "",
                    "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": SAFE_FILTER}]})  # fmt: skip

    def role(self) -> bytes:
        d = self._base()
        choice: dict[str, Any] = {"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
        if self.azure:
            choice["content_filter_results"] = {}
        d["choices"] = [choice]
        if self.include_usage:
            d["usage"] = None
        return sse(d)

    def content(self, text: str) -> bytes:
        return self._pre + orjson.dumps(text) + self._post

    def finish(self, reason: str, filtered: bool = False) -> bytes:
        d = self._base()
        choice: dict[str, Any] = {"index": 0, "logprobs": None, "finish_reason": reason}
        if self.api == "chat":
            choice["delta"] = {}
        else:
            choice["text"] = ""
        if self.azure or filtered:
            cf = dict(SAFE_FILTER)
            if filtered:
                cf["violence"] = {"filtered": True, "severity": "medium"}
            choice["content_filter_results"] = cf
        d["choices"] = [choice]
        if self.include_usage:
            d["usage"] = None
        return sse(d)

    def reasoning(self, piece: str) -> bytes:
        """A ``delta.reasoning_content`` chunk (vLLM, DeepSeek); an empty piece sends nothing (the thinking is silent)."""
        if not piece or self.api != "chat":
            return b""
        d = self._base()
        d["choices"] = [{"index": 0, "delta": {"reasoning_content": piece}, "logprobs": None, "finish_reason": None}]
        return sse(d)

    def tool_args(self, piece: str, name: str = "search") -> bytes:
        """A ``delta.tool_calls`` chunk: the first one opens the call (id, name), the rest carry argument pieces."""
        d = self._base()
        call: dict[str, Any] = {"index": 0, "function": {"arguments": piece}}
        if not getattr(self, "_call_open", False):
            self._call_open = True
            call = {"index": 0, "id": "call_" + self.id[-24:], "type": "function", "function": {"name": name, "arguments": piece}}
        d["choices"] = [{"index": 0, "delta": {"tool_calls": [call]}, "logprobs": None, "finish_reason": None}]
        return sse(d)

    def annotation(self, offset: int) -> bytes:
        """Azure asynchronous-filter annotation: a choice with no delta."""
        return sse({"id": self.id, "object": self.object, "created": self.created, "model": self.model,
                    "choices": [{"index": 0, "finish_reason": None, "content_filter_results": SAFE_FILTER,
                                 "content_filter_offsets": {"check_offset": 0, "start_offset": 0, "end_offset": offset}}]})  # fmt: skip

    def usage(self, prompt_tokens: int, completion_tokens: int, reasoning_tokens: int | None = None) -> bytes:
        d = self._base()
        d["choices"] = []
        d["usage"] = usage_dict(prompt_tokens, completion_tokens, reasoning_tokens)
        return sse(d)

    def error_event(self, message: str, code: str | None = None) -> bytes:
        return b"event: error\ndata: " + orjson.dumps({"error": {"message": message, "type": "server_error", "code": code}}) + b"\n\n"


def usage_dict(prompt_tokens: int, completion_tokens: int, reasoning_tokens: int | None = None) -> dict[str, Any]:
    """Chat usage; with ``reasoning_tokens`` (a reasoning model) ``completion_tokens`` includes them, as on the real services."""
    if reasoning_tokens is None:
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
    total = completion_tokens + reasoning_tokens
    return {"prompt_tokens": prompt_tokens, "completion_tokens": total, "total_tokens": prompt_tokens + total,
            "prompt_tokens_details": {"cached_tokens": 0}, "completion_tokens_details": {"reasoning_tokens": reasoning_tokens}}  # fmt: skip


def full_response(response_id: str, model: str, api: str, text: str, finish_reason: str, prompt_tokens: int, completion_tokens: int,
                  reasoning_tokens: int | None = None, tool_args: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A non-streaming response body."""
    if api == "chat" and tool_args is not None:
        call = {"id": "call_" + response_id[-24:], "type": "function", "function": {"name": "search", "arguments": tool_args}}
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": None, "tool_calls": [call]}, "logprobs": None,
                                  "finish_reason": "tool_calls"}  # fmt: skip
        return {"id": response_id, "object": "chat.completion", "created": int(time.time()), "model": model, "choices": [choice],
                "usage": usage_dict(prompt_tokens, completion_tokens, reasoning_tokens)}  # fmt: skip
    if api == "chat":
        choice = {"index": 0, "message": {"role": "assistant", "content": text}, "logprobs": None, "finish_reason": finish_reason}
        obj = "chat.completion"
    else:
        choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish_reason}
        obj = "text_completion"
    return {"id": response_id, "object": obj, "created": int(time.time()), "model": model, "choices": [choice],
            "usage": usage_dict(prompt_tokens, completion_tokens, reasoning_tokens)}  # fmt: skip
