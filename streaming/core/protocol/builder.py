"""From stamped bytes to a StreamRecord: the one parsing and timing path, and the one place a record's final state is decided.

The clients only move bytes; each read is stamped with the clock *before* it is
parsed, and handed to ``RecordBuilder``. The API's parser (``PARSERS``) says what an
event carries; the builder stamps it, and ``finish`` decides the status (including
cancelled, interrupted and retried), the token count and the retry-inclusive times.
Nothing changes a record after ``finish``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from streaming.core.protocol import chat, finish, responses
from streaming.core.record import Attempt, StreamRecord
from streaming.core.sse import SSEDecoder
from streaming.core.tokens import count_tokens

REQUEST_ID_HEADERS = ("x-request-id", "apim-request-id", "x-ms-request-id")
# rate limits, retry waits, Azure's PTU utilization, the server's own queue time, and every request id the response carried
KEPT_HEADER_PREFIXES = ("x-ratelimit-", "retry-after", "azure-openai-deployment-utilization", "x-queue-time-ms", *REQUEST_ID_HEADERS)
BAD_PAYLOAD_LIMIT = 200
# One parser module per API (``event``, ``body``, ``usage``); chat and legacy completions share a chunk shape.
PARSERS: dict[str, Any] = {"chat": chat, "completions": chat, "responses": responses}
# Error codes whose message is already one plain sentence, kept as the record's error_type (the built-in server's local model).
NAMED_ERROR_CODES = frozenset({"model_crashed", "model_unavailable"})
NO_FINISH_REASON = "the stream ended with [DONE] but no finish_reason: the server did not say why it stopped"
# Sees each event after it was parsed: (seconds from t0, event name, data, the builder). The stream inspector's hook.
Observer = Callable[[float, str, str, "RecordBuilder"], None]


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
    """Feeds one attempt's stamped bytes into its ``StreamRecord`` and finishes it.

    Times passed in are absolute clock readings; the record stores them relative to ``t0``.
    """

    __slots__ = ("rec", "t0", "_sse", "parts", "usage", "_body", "done", "_failed", "_final", "_api", "reasoning_parts", "tool_times", "observer", "done_marker")

    def __init__(self, rec: StreamRecord, t0: float, observer: Observer | None = None) -> None:
        self.rec = rec
        self.t0 = t0
        rec.t0_monotonic = t0
        self.observer = observer
        self._sse = SSEDecoder(keep_comments=observer is not None)
        self._api = PARSERS.get(rec.api, chat)
        self.parts: list[str] = []
        self.usage: dict[str, Any] | None = None
        self._body: list[bytes] = []
        self.done = False  # the stream's terminal event ([DONE]), or an in-stream error
        self._failed = False  # an error response or a transport failure ended this attempt
        self._final = False
        self.reasoning_parts: list[str] = []  # streamed reasoning (summary deltas, reasoning_content)
        self.tool_times: list[float] = []  # tool-call argument deltas, relative to t0
        self.done_marker = False  # the chat stream's [DONE] arrived

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
            if ev.comment is not None:  # only kept for an observer: comments never reach the parsers
                self.observer(t - self.t0, "comment", ev.comment, self)  # type: ignore[misc]
                continue
            delta = self._event(t, ev.event, ev.data)
            if delta:
                out.append(delta)
            if self.done:
                break
        return out

    def on_error_body(self, t: float, status: int, body: bytes) -> None:
        """An HTTP error response: this attempt failed (the client then retries or finishes)."""
        rec = self.rec
        rec.error_type, rec.error = error_message(status, body)
        rec.status = "error"
        self._failed = True
        self._times(t)

    def on_failure(self, t: float, status: str, error_type: str, error: str) -> None:
        """A transport failure of this attempt (before it is retried or finished)."""
        rec = self.rec
        rec.status, rec.error_type, rec.error = status, error_type, error
        self._failed = True
        self._times(t)

    # -- what parsers call ---------------------------------------------------------
    def on_content(self, t: float, text: str) -> None:
        rec = self.rec
        ts = t - self.t0
        if rec.ttft_s is None:
            rec.ttft_s = ts
        rec.chunk_times_s.append(ts)
        rec.chunk_chars.append(len(text))
        rec.chunks += 1
        self.parts.append(text)

    def on_reasoning(self, t: float, text: str) -> None:
        """A reasoning event with text (never the empty ``output_item.added``): the first one stamps ``t_first_reasoning_s``."""
        if not text:
            return
        if self.rec.t_first_reasoning_s is None:
            self.rec.t_first_reasoning_s = t - self.t0
        self.reasoning_parts.append(text)

    def on_finish(self, raw: Any) -> None:
        """A finish reason as the server spelled it: the canonical one on the record, the raw one beside it when different."""
        reason, raw_kept = finish.normalize(raw)
        if reason is not None:
            self.rec.finish_reason = reason
            self.rec.finish_reason_raw = raw_kept

    def on_tool_call(self, t: float, new_call: bool) -> None:
        """A tool-call delta: a visible answer of its own when the model writes no text (its first delta is then TTFT)."""
        if new_call:
            self.rec.tool_calls += 1
        self.tool_times.append(t - self.t0)

    def on_stream_error(self, err: Any) -> None:
        rec = self.rec
        msg = err.get("message") if isinstance(err, dict) else str(err)
        code = err.get("code") if isinstance(err, dict) else None
        rec.status = "error"
        if code in NAMED_ERROR_CODES:
            rec.error_type, rec.error = code, str(msg)
        else:
            rec.error_type = "stream_error"
            rec.error = f"the server reported an error mid-stream: {msg}"
        self.done = True

    # -- the end ----------------------------------------------------------------------
    def finish(self, t: float, *, status: str | None = None, error: str | None = None, error_type: str | None = None,
               attempts: list[Attempt] | None = None, first_t0: float | None = None) -> StreamRecord:  # fmt: skip
        """End of the body (or of our reading): decide the record's final state, once.

        ``status`` overrides when the reader stopped early (cancelled, a timeout, a dropped
        connection); ``attempts`` are the failed attempts before this one and ``first_t0``
        the first attempt's send, for the retry-inclusive times.
        """
        rec = self.rec
        if self._final:
            return rec
        self._final = True
        if not self._failed:
            if not rec.stream and status is None:
                self._parse_body()
            elif rec.stream and status is None and not self.done:
                self._sse.flush()  # an event not ended by a blank line is never dispatched (WHATWG)
            rec.text = "".join(self.parts)
            self._tool_call_answer()
            self._times(t)
            self._apply_usage()
        elif self.parts:
            rec.text = "".join(self.parts)
        rec.reasoning_text = "".join(self.reasoning_parts)
        if rec.status == "ok" and status is None and self.done_marker and rec.finish_reason is None and rec.chunks:
            rec.warnings.append(NO_FINISH_REASON)  # still ok (the server said the stream was complete), but said
        if rec.status != "ok":
            pass  # already decided: an error response, a failed attempt, an in-stream error or a protocol error
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
        elif not rec.chunks and not rec.text and rec.finish_reason == "length" and (rec.reasoning_tokens or rec.t_first_reasoning_s is not None):
            budget = "max_output_tokens" if rec.api == "responses" else "max_completion_tokens"
            n = f"{rec.reasoning_tokens} reasoning tokens" if rec.reasoning_tokens is not None else "reasoning tokens not reported"
            rec.status = "error"
            rec.error_type = "reasoning_budget"
            rec.error = f"no visible answer: the reasoning used the whole {budget} budget ({n}); raise it"
        elif rec.stream and not rec.chunks:
            rec.status = "error"
            rec.error_type = "empty_stream"
            rec.error = "the stream ended without any content"
        elif not rec.stream and not rec.text and rec.finish_reason != "length" and not rec.tool_calls:
            rec.status = "error"
            rec.error_type = "empty_response"
            rec.error = "the response had no content"
        self._apply_attempts(attempts or [], first_t0)
        return rec

    # -- internals ------------------------------------------------------------
    def _times(self, t: float) -> None:
        rec = self.rec
        rec.e2e_s = t - self.t0
        if rec.chunk_times_s:
            rec.t_last_token_s = rec.chunk_times_s[-1]

    def _tool_call_answer(self) -> None:
        """An answer of tool calls only: its deltas stand for the visible chunks (TTFT = the first tool-call delta)."""
        rec = self.rec
        if rec.chunks or not self.tool_times:
            return
        rec.chunk_times_s = list(self.tool_times)
        rec.chunk_chars = [0] * len(self.tool_times)
        rec.chunks = len(self.tool_times)
        rec.ttft_s = self.tool_times[0]

    def _apply_attempts(self, attempts: list[Attempt], first_t0: float | None) -> None:
        rec = self.rec
        rec.attempts = list(attempts)
        rec.retries = len(attempts)
        rec.retry_wait_s = sum(a.wait_s for a in attempts)
        offset = self.t0 - first_t0 if first_t0 is not None else 0.0
        rec.ttft_incl_retries_s = None if rec.ttft_s is None else rec.ttft_s + offset
        rec.e2e_incl_retries_s = None if rec.e2e_s is None else rec.e2e_s + offset

    def _event(self, t: float, event: str, data: str) -> str | None:
        out = self._parse_event(t, event, data)
        if self.observer is not None:
            self.observer(t - self.t0, event, data, self)
        return out

    def _parse_event(self, t: float, event: str, data: str) -> str | None:
        rec = self.rec
        rec.events += 1
        if rec.t_first_event_s is None:
            rec.t_first_event_s = t - self.t0
        if data == "[DONE]":
            self.done = self.done_marker = True
            return None
        if not data.strip():
            return None  # an event with empty data (a keep-alive ``event: ping``) is legal and carries nothing
        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            if event not in ("message", "error"):
                return None  # an event type the APIs do not define, with a payload that is not theirs: ignored
            rec.status = "protocol_error"
            rec.error_type = "malformed_chunk"
            rec.error = "the server sent a chunk that is not valid JSON"
            rec.bad_payload = data[:BAD_PAYLOAD_LIMIT]
            self.done = True
            return None
        if not isinstance(obj, dict):
            return None
        return self._api.event(self, t, event, obj)

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
        if isinstance(obj, dict):
            self._api.body(self, obj)

    def _apply_usage(self) -> None:
        rec = self.rec
        if self.usage:
            self._api.usage(self, self.usage)
        if rec.tokens_source is None and rec.stream and rec.chunks and not (rec.tool_calls and not self.parts):
            counted = count_tokens(rec.provider, rec.model, rec.text)  # no usage: the model's tokenizer when we have it
            rec.output_tokens, rec.tokens_source = counted if counted else (rec.chunks, "chunks")
