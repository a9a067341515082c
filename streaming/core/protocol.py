"""From stamped bytes to a StreamRecord: the one parsing and timing path.

The sync and async clients only move bytes; each read is stamped with the clock
*before* it is parsed, and handed to ``RecordBuilder``. So the same code decides
TTFT, ITL, usage and status whichever client (or test) feeds it.
"""

from __future__ import annotations

from typing import Any

import orjson

from streaming.core.record import StreamRecord
from streaming.core.sse import SSEDecoder

REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id", "x-ms-request-id")


KEPT_HEADER_PREFIXES = ("x-ratelimit-", "retry-after")


BAD_PAYLOAD_LIMIT = 200


# Error codes whose message is already one plain sentence, kept as the record's error_type (the built-in server's local model).
NAMED_ERROR_CODES = frozenset({"model_crashed", "model_unavailable"})


def kept_headers(headers: Any) -> dict[str, str]:
    """Rate-limit and retry headers worth keeping on the record."""
    return {k.lower(): v for k, v in headers.items() if k.lower().startswith(KEPT_HEADER_PREFIXES)}


def error_message(status: int, body: bytes) -> tuple[str, str]:
    """(error_type, one plain sentence) for an HTTP error response."""
    detail = ""
    try:
        data = orjson.loads(body)
        err = data.get("error") if isinstance(data, dict) else None
        if isinstance(err, dict) and err.get("code") in NAMED_ERROR_CODES:
            return str(err["code"]), str(err.get("message") or err["code"])
        if isinstance(err, dict):
            detail = str(err.get("message") or err.get("code") or "")
        elif isinstance(data, dict) and "detail" in data:
            detail = str(data["detail"])
    except orjson.JSONDecodeError:
        detail = body[:BAD_PAYLOAD_LIMIT].decode("utf-8", errors="replace").strip()
    plain = {
        400: "the server rejected the request",
        401: "the API key was refused",
        403: "access was denied",
        404: "the deployment or route was not found",
        408: "the server timed out",
        429: "the deployment is rate-limited (too many requests)",
        500: "the server had an internal error",
        502: "a gateway in front of the model failed",
        503: "the model is unavailable or overloaded",
        504: "a gateway in front of the model timed out",
    }.get(status, "the request failed")
    msg = f"HTTP {status}: {plain}" + (f" ({detail})" if detail else "")
    return f"http_{status}", msg


class RecordBuilder:
    """Feeds one response's stamped bytes into a ``StreamRecord``.

    Times passed in are absolute clock readings; the record stores them relative to ``t0``.
    """

    __slots__ = ("rec", "t0", "_sse", "_parts", "_usage", "_body", "done", "_ended")

    def __init__(self, rec: StreamRecord, t0: float) -> None:
        self.rec = rec
        self.t0 = t0
        rec.t0_monotonic = t0
        self._sse = SSEDecoder()
        self._parts: list[str] = []
        self._usage: dict[str, Any] | None = None
        self._body: list[bytes] = []
        self.done = False  # [DONE] seen, or a terminal error event
        self._ended = False

    # -- inputs -------------------------------------------------------------
    def on_headers(self, t: float, status: int, headers: Any) -> None:
        rec = self.rec
        rec.t_headers_s = t - self.t0
        rec.http_status = status
        for name in REQUEST_ID_HEADERS:
            value = headers.get(name)
            if value:
                rec.request_id = value
                break
        rec.ratelimit = kept_headers(headers)

    def on_bytes(self, t: float, data: bytes) -> list[str]:
        """One read. Returns the content deltas it carried (streaming only)."""
        if not self.rec.stream:
            self._body.append(data)
            return []
        if self.done:
            return []
        out: list[str] = []
        for ev in self._sse.feed(data):
            delta = self._event(t, ev.event, ev.data)
            if delta:
                out.append(delta)
            if self.done:
                break
        return out

    def on_error_body(self, t: float, status: int, body: bytes) -> None:
        self.rec.error_type, self.rec.error = error_message(status, body)
        self.rec.status = "error"
        self._finish_times(t)
        self._ended = True

    def finish(self, t: float, *, status: str | None = None, error: str | None = None, error_type: str | None = None) -> StreamRecord:
        """End of the body (or of our reading). ``status`` overrides when the reader stopped early."""
        rec = self.rec
        if self._ended:
            return rec
        self._ended = True
        if not rec.stream and status is None:
            self._parse_body()
        elif rec.stream and status is None and not self.done:
            for ev in self._sse.flush():
                self._event(t, ev.event, ev.data)
        rec.text = "".join(self._parts)
        self._finish_times(t)
        self._apply_usage()
        if rec.status not in ("ok",):
            pass  # already decided by an in-stream error or a protocol error
        elif status is not None:
            rec.status, rec.error, rec.error_type = status, error, error_type
            if status == "interrupted" and not rec.chunks:
                rec.status = "error"  # a drop before any content is a failed request, not a partial one
        elif rec.stream and not self.done and rec.finish_reason is None:
            rec.status = "interrupted" if rec.chunks else "error"
            rec.error_type = "incomplete_stream"
            rec.error = "the stream ended before the server finished it" + (" (partial answer kept)" if rec.chunks else "")
        elif rec.finish_reason == "content_filter":
            rec.status = "filtered"
            rec.error_type = "content_filter"
            rec.error = "the content filter stopped the answer" + (" after some text was shown" if rec.text else "")
        elif rec.stream and not rec.chunks:
            rec.status = "error"
            rec.error_type = "empty_stream"
            rec.error = "the stream ended without any content"
        elif not rec.stream and not rec.text and rec.finish_reason != "length":
            rec.status = "error"
            rec.error_type = "empty_response"
            rec.error = "the response had no content"
        return rec

    # -- internals ------------------------------------------------------------
    def _finish_times(self, t: float) -> None:
        rec = self.rec
        rec.e2e_s = t - self.t0
        if rec.chunk_times_s:
            rec.t_last_token_s = rec.chunk_times_s[-1]

    def _event(self, t: float, event: str, data: str) -> str | None:
        rec = self.rec
        rec.events += 1
        if rec.t_first_event_s is None:
            rec.t_first_event_s = t - self.t0
        if data == "[DONE]":
            self.done = True
            return None
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            rec.status = "protocol_error"
            rec.error_type = "malformed_chunk"
            rec.error = "the server sent a chunk that is not valid JSON"
            rec.bad_payload = data[:BAD_PAYLOAD_LIMIT]
            self.done = True
            return None
        if not isinstance(obj, dict):
            return None
        if event == "error" or "error" in obj:
            err = obj.get("error", obj)
            msg = err.get("message") if isinstance(err, dict) else str(err)
            code = err.get("code") if isinstance(err, dict) else None
            rec.status = "error"
            if code in NAMED_ERROR_CODES:
                rec.error_type, rec.error = code, str(msg)
            else:
                rec.error_type = "stream_error"
                rec.error = f"the server reported an error mid-stream: {msg}"
            self.done = True
            return None
        if rec.response_id is None and obj.get("id"):
            rec.response_id = obj["id"]
        if obj.get("usage"):
            self._usage = obj["usage"]
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
            ts = t - self.t0
            if rec.ttft_s is None:
                rec.ttft_s = ts
            rec.chunk_times_s.append(ts)
            rec.chunk_chars.append(len(content))
            rec.chunks += 1
            self._parts.append(content)
            return content
        return None

    def _parse_body(self) -> None:
        rec = self.rec
        body = b"".join(self._body)
        rec.events = 1 if body else 0
        try:
            obj = orjson.loads(body)
        except orjson.JSONDecodeError:
            rec.status = "protocol_error"
            rec.error_type = "malformed_body"
            rec.error = "the server sent a response that is not valid JSON"
            rec.bad_payload = body[:BAD_PAYLOAD_LIMIT].decode("utf-8", errors="replace")
            return
        rec.response_id = obj.get("id")
        self._usage = obj.get("usage") or None
        choices = obj.get("choices") or []
        if choices:
            c = choices[0]
            msg = c.get("message")
            text = (msg.get("content") if isinstance(msg, dict) else c.get("text")) or ""
            self._parts.append(text)
            rec.finish_reason = c.get("finish_reason")
            rec.chunks = 1 if text else 0

    def _apply_usage(self) -> None:
        rec = self.rec
        u = self._usage
        if u and u.get("completion_tokens") is not None:
            rec.output_tokens = int(u["completion_tokens"])
            rec.input_tokens = u.get("prompt_tokens")
            rec.tokens_source = "usage"
        elif rec.stream and rec.chunks:
            rec.output_tokens = rec.chunks
            rec.tokens_source = "chunks"
        elif not rec.stream and rec.chunks:
            rec.output_tokens = None
            rec.tokens_source = None
