"""The stream inspector: every event of one stream, when it arrived, and what the client made of it.

Engineers use it to see why two tools disagree about one deployment: which event set TTFT, which set
the first reasoning time, what was ignored, and how the tokens were counted. Two ways in, one parsing
path (the ``RecordBuilder`` every measurement uses, watched through its ``observer`` hook):

- ``inspect_live``: one request through the normal client;
- ``inspect_capture``: a captured body, raw SSE or a HAR file from a browser's developer tools (the
  SSE response's ``content.text``, base64 or not). A capture has no per-event arrival times.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

import orjson

from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord
from streaming.core.sse import SSEDecoder
from streaming.errors import StreamingError

DATA_SHOWN = 2000  # characters of each event's data kept (the display shows less)
OPENAI_MODEL_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt", "text-davinci")


class InspectError(StreamingError):
    """A capture the inspector cannot read: the message names the problem."""


@dataclass(frozen=True)
class SeenEvent:
    """One event (or comment) as the client saw it."""

    index: int
    t_s: float | None  # arrival from t0; None in a capture
    event: str
    kinds: tuple[str, ...]  # role, filter, reasoning, visible, refusal, tool_call, usage, finish, done, error, ignored, comment
    data: str
    marks: tuple[str, ...] = ()  # "TTFT", "first reasoning"

    @property
    def gist(self) -> str:
        """The part of the data that matters: a chat chunk's delta (and usage), a typed event's delta, else the data."""
        try:
            obj = orjson.loads(self.data)
        except orjson.JSONDecodeError:
            return self.data
        if not isinstance(obj, dict):
            return self.data
        parts: dict[str, Any] = {}
        choices = obj.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            c = choices[0]
            parts = {k: c[k] for k in ("delta", "text", "finish_reason") if c.get(k) not in (None, {})}
        elif isinstance(obj.get("type"), str):
            parts = {k: obj[k] for k in ("delta", "refusal", "item") if k in obj}
        for k in ("usage", "error"):
            if obj.get(k):
                parts[k] = obj[k]
        return orjson.dumps(parts).decode() if parts else self.data

    @property
    def meaning(self) -> str:
        return ", ".join(self.kinds) + (f"  ← {' + '.join(self.marks)}" if self.marks else "")


@dataclass
class Inspection:
    """A whole stream: its events, the record the client made of them, and where it came from."""

    source: str
    timed: bool
    record: StreamRecord
    events: list[SeenEvent] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One row per event, for a table."""
        return [{"#": e.index, "t (ms)": None if e.t_s is None else round(e.t_s * 1000, 2), "event": e.event,
                 "client's reading": e.meaning, "data": e.gist} for e in self.events]  # fmt: skip

    def accounting(self) -> dict[str, Any]:
        """The token accounting and the end of the stream, as the record has them."""
        r = self.record
        return {"status": r.status, "error": r.error, "finish_reason": r.finish_reason, "finish_reason_raw": r.finish_reason_raw,
                "refusal": r.refusal, "output_tokens": r.output_tokens, "reasoning_tokens": r.reasoning_tokens,
                "tokens_source": r.tokens_source, "input_tokens": r.input_tokens, "chunks": r.chunks, "warnings": list(r.warnings)}  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        marks = {m: e.index for e in self.events for m in e.marks}
        return {"source": self.source, "timed": self.timed, "ttft_event": marks.get("TTFT"), "first_reasoning_event": marks.get("first reasoning"),
                "events": [{"index": e.index, "t_s": e.t_s, "event": e.event, "kinds": list(e.kinds), "marks": list(e.marks), "data": e.data}
                           for e in self.events],
                "accounting": self.accounting(), "record": self.record.to_dict()}  # fmt: skip

    def summary(self) -> list[str]:
        """Which events set TTFT and first reasoning, the token accounting and the end: a few lines."""
        r, d, a = self.record, self.to_dict(), self.accounting()

        def when(v: float | None) -> str:
            return "n/a" if v is None else (f"{v * 1000:.1f} ms" if self.timed else "untimed")

        fr = d["first_reasoning_event"]
        lines = [f"TTFT {when(r.ttft_s)}, set by event #{d['ttft_event']}" if d["ttft_event"] is not None else "TTFT: no event set it",
                 f"first reasoning {when(r.t_first_reasoning_s)}, set by event #{fr}" if fr is not None else "first reasoning: none streamed",
                 f"tokens: visible {a['output_tokens']}, reasoning {'—' if a['reasoning_tokens'] is None else a['reasoning_tokens']}, input {a['input_tokens']} ({a['tokens_source']}); "
                 f"{a['chunks']} visible chunk{'' if a['chunks'] == 1 else 's'}",
                 f"end: status {a['status']}, finish_reason {a['finish_reason']}" + (f" (server said {a['finish_reason_raw']})" if a["finish_reason_raw"] else "")
                 + (", a refusal" if a["refusal"] else "") + (f"; error: {a['error']}" if a["error"] else "")]  # fmt: skip
        return lines + [f"warning: {w}" for w in a["warnings"]]

    def render(self) -> str:
        """The human report: a line per event, then which events set TTFT and first reasoning, then the accounting."""
        lines = [f"source: {self.source}" + ("" if self.timed else " (a capture: no arrival times)"),
                 f"{'#':>3}  {'t (ms)':>9}  {'event':<34}  {'client reading':<40}  data"]  # fmt: skip
        for e in self.events:
            t = "—" if e.t_s is None else f"{e.t_s * 1000:.1f}"
            lines.append(f"{e.index:>3}  {t:>9}  {e.event[:34]:<34}  {e.meaning:<40}  {e.gist[:90]}")
        lines += self.summary()
        return "\n".join(lines)


class Watcher:
    """The builder's observer: turns what each event changed into kinds."""

    def __init__(self, timed: bool = True) -> None:
        self.timed = timed
        self.events: list[SeenEvent] = []
        self._builder: RecordBuilder | None = None
        self._state: tuple[Any, ...] = ()

    @staticmethod
    def _snapshot(b: RecordBuilder) -> tuple[Any, ...]:
        r = b.rec
        return (r.chunks, len(b.reasoning_parts), len(b.tool_times), id(b.usage) if b.usage else None, len(r.content_filter),
                r.finish_reason, b.done, r.status, r.refusal)  # fmt: skip

    def __call__(self, t_s: float, event: str, data: str, b: RecordBuilder) -> None:
        if b is not self._builder:  # a new attempt (after a retry): its events only
            self._builder, self.events = b, []
            self._state = (0, 0, 0, None, 0, None, False, "ok", False)
        before, after = self._state, self._snapshot(b)
        self._state = after
        kinds: list[str] = []
        if event == "comment":
            kinds.append("comment (ignored)")
        else:
            if _has_role(data):
                kinds.append("role")
            names = ("visible", "reasoning", "tool_call", "usage")
            kinds += [n for n, x, y in zip(names, before[:4], after[:4]) if x != y]
            if after[4] != before[4] or '"content_filter_results"' in data or '"prompt_filter_results"' in data:
                kinds.append("filter annotation" + (" (filtered)" if '"filtered":true' in data.replace(" ", "") else ""))
            if after[8] and not before[8]:
                kinds.append("refusal")
            if after[5] != before[5]:
                kinds.append(f"finish: {after[5]}")
            if after[7] != before[7]:
                kinds.append(f"{after[7]}")
            elif after[6] and not before[6]:
                kinds.append("done")
            if not kinds:
                kinds.append("ignored")
        self.events.append(SeenEvent(len(self.events), t_s if self.timed else None, event, kinds=tuple(kinds), data=data[:DATA_SHOWN]))

    def finish(self, source: str, rec: StreamRecord) -> Inspection:
        """Mark the events that set TTFT and first reasoning, once the record is final."""
        evs = self.events
        first = {k: next((e.index for e in evs if k in e.kinds), None) for k in ("visible", "reasoning", "tool_call")}
        ttft = first["visible"] if first["visible"] is not None else (first["tool_call"] if rec.ttft_s is not None else None)
        marks: dict[int, list[str]] = {}
        if ttft is not None:
            marks.setdefault(ttft, []).append("TTFT")
        if first["reasoning"] is not None:
            marks.setdefault(first["reasoning"], []).append("first reasoning")
        out = [SeenEvent(e.index, e.t_s, e.event, e.kinds, e.data, tuple(marks.get(e.index, ()))) for e in evs]
        return Inspection(source=source, timed=self.timed, record=rec, events=out)


def _has_role(data: str) -> bool:
    if '"role"' not in data:
        return False
    try:
        obj = orjson.loads(data)
        delta = obj["choices"][0]["delta"]
        return isinstance(delta, dict) and bool(delta.get("role"))
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        return False


def inspect_live(client: Any, deployment: Any, request: Any) -> Inspection:
    """Send ``request`` through ``client`` (a ``streaming.core.client.Client``) and watch every event of its stream."""
    watcher = Watcher()
    with client.stream(deployment, request) as s:
        s.observer = watcher
        rec = s.run()
        dep = s.deployment
    return watcher.finish(f"live: deployment {dep.name} ({rec.api}, {rec.transport})", rec)


def inspect_request(deployments: list[Any], name: str, prompt: str, *, server_url: str | None = None, credentials: Any = None,
                    clock: Any = None) -> Inspection:  # fmt: skip
    """One short request to deployment ``name`` (from ``deployments``), inspected: what the Deployments page runs."""
    from streaming.core.client import Client
    from streaming.core.config import find_deployment
    from streaming.core.request import LLMRequest, RetryPolicy, Timeouts

    dep = find_deployment(deployments, name)
    req = LLMRequest(prompt=prompt, api="completions", max_tokens=256) if dep.api == "completions" else LLMRequest.chat(prompt, max_tokens=256)
    kw = {"clock": clock} if clock is not None else {}
    with Client(deployments, server_url=server_url, credentials=credentials, timeouts=Timeouts(connect_s=5, stall_s=30),
                retry=RetryPolicy(max_retries=0), **kw) as client:  # fmt: skip
        return inspect_live(client, dep, req)


def sse_body(raw: bytes, name: str = "capture") -> tuple[bytes, str]:
    """(the SSE body, what it was) from a capture file: raw SSE, or the first event-stream response of a HAR file."""
    text = raw.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"{"):
        try:
            har = orjson.loads(text)
        except orjson.JSONDecodeError:
            raise InspectError(f"{name}: the file starts like JSON but is not valid JSON, so it is neither a HAR file nor an SSE body") from None
        entries = har.get("log", {}).get("entries") if isinstance(har, dict) and isinstance(har.get("log"), dict) else None
        if not isinstance(entries, list):
            raise InspectError(f"{name}: the file is JSON but not a HAR file (it has no log.entries); export the request from the browser's Network tab as HAR")
        for i, entry in enumerate(entries):
            content = (entry.get("response") or {}).get("content") or {} if isinstance(entry, dict) else {}
            body = content.get("text")
            if not isinstance(body, str) or not body:
                continue
            if content.get("encoding") == "base64":
                try:
                    data = base64.b64decode(body, validate=True)
                except (binascii.Error, ValueError):
                    raise InspectError(f"{name}: HAR entry {i}'s response body is marked base64 but does not decode") from None
            else:
                data = body.encode("utf-8")
            if "event-stream" in str(content.get("mimeType", "")) or _looks_like_sse(data):
                url = (entry.get("request") or {}).get("url", "")
                return data, f"HAR entry {i} ({url})" if url else f"HAR entry {i}"
        raise InspectError(f"{name}: the HAR file has no text/event-stream response body (the browser may have dropped it; capture again with the response finished)")
    if not _looks_like_sse(raw):
        raise InspectError(f"{name}: the file is neither an SSE body (no 'data:' line) nor a HAR file")
    return raw, "SSE body"


def _looks_like_sse(data: bytes) -> bool:
    head = data[:65536].lstrip(b"\xef\xbb\xbf")
    return head.startswith((b"data:", b"event:", b":", b"id:")) or b"\ndata:" in head or b"\rdata:" in head


def _guess(body: bytes) -> tuple[str, str]:
    """(api, model) from the capture's first JSON events."""
    api, model = "chat", ""
    d = SSEDecoder()
    for ev in d.feed(body + b"\n\n")[:20]:
        try:
            obj = orjson.loads(ev.data)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(obj, dict):
            continue
        if str(obj.get("type", "")).startswith("response.") or ev.event.startswith("response."):
            api = "responses"
            resp = obj.get("response")
            model = model or (resp.get("model", "") if isinstance(resp, dict) else "")
        elif isinstance(obj.get("choices"), list) and obj["choices"] and isinstance(obj["choices"][0], dict) and "text" in obj["choices"][0]:
            api = "completions"
        model = model or str(obj.get("model") or "")
    return api, model


def inspect_capture(raw: bytes, name: str = "capture") -> Inspection:
    """Read a captured stream (raw SSE or HAR) through the client's parser: every event, untimed, and the accounting."""
    body, what = sse_body(raw, name)
    api, model = _guess(body)
    # an OpenAI model name gets its own tokenizer; any other model is a server of unknown vocabulary
    provider = "openai" if model.lower().startswith(OPENAI_MODEL_PREFIXES) else "compatible"
    rec = StreamRecord(deployment=name, provider=provider, model=model or "unknown", api=api)
    watcher = Watcher(timed=False)
    b = RecordBuilder(rec, 0.0, watcher)
    b.on_headers(0.0, 200, {})
    b.on_bytes(0.0, body)
    rec = b.finish(0.0)
    if rec.error_type == "incomplete_stream":
        raise InspectError(f"{name}: the capture is truncated: it ends before the stream's terminal event ([DONE], a finish_reason or response.completed); capture the whole response")
    if not watcher.events:
        raise InspectError(f"{name}: the {what} holds no complete SSE event (each event must end with a blank line)")
    return watcher.finish(f"{name}: {what}, {api} API" + (f", model {model}" if model else ""), rec)
