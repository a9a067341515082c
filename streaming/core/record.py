"""StreamRecord: one request's timestamps and the metrics derived from them.

Every time is in seconds from ``t0``, the instant just before the request was
written to the connection, on one monotonic clock. The derived metrics are pure
functions of those times so they can be tested with a scripted clock.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("ok", "error", "cancelled", "interrupted", "stalled", "filtered", "protocol_error")
# Stopped by the user (the demo's Stop, a benchmark's Stop): neither a success nor a failure, counted apart.
STOPPED_STATUSES = ("cancelled",)
FAILED_STATUSES = tuple(s for s in STATUSES if s not in ("ok", *STOPPED_STATUSES))


def outcome_counts(status: Any) -> tuple[int, int, int]:
    """(ok, failed, stopped) among ``status`` values; a status not in ``STATUSES`` (or missing) is a failure."""
    import numpy as np  # here, not at the top: chat, serve and the server's workers never load numpy

    a = np.asarray(status, dtype=object)
    ok, stopped = int(np.isin(a, ("ok",)).sum()), int(np.isin(a, STOPPED_STATUSES).sum())
    return ok, int(a.size) - ok - stopped, stopped


def utc_now() -> str:
    """Wall-clock time as ISO 8601 UTC with milliseconds: a label for display and storage, never a duration."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def perceived_wait(stream: Any, ttft_s: Any, e2e_s: Any) -> Any:
    """What a user waits before reading: TTFT when streaming, e2e when not.

    The one definition: works on one request's values and, elementwise, on numpy arrays (the store's columns).
    """
    np = sys.modules.get("numpy")  # an array is numpy's, so numpy is loaded when one comes
    if np is not None and isinstance(stream, np.ndarray):
        return np.where(stream.astype(bool), ttft_s, e2e_s)
    return ttft_s if stream else e2e_s


def schedule_lag(sent_s: Any, scheduled_s: Any) -> Any:
    """How late a request left compared with its intended (Poisson) send time; None/NaN outside rate mode. Scalars or arrays."""
    if sent_s is None or scheduled_s is None:
        return None
    return sent_s - scheduled_s


def from_schedule(lag_s: Any, wait_s: Any, connect_s: Any = 0.0) -> Any:
    """Rows stored before the run's start was (m004): schedule lag + connection setup + the wait from the send.

    Rate mode only (None/NaN otherwise). Scalars or arrays. ``since_scheduled`` is the definition; this approximates it."""
    if lag_s is None or wait_s is None:
        return None
    return lag_s + connect_s + wait_s


def since_scheduled(t0_monotonic: Any, t_s: Any, run_start_s: Any, scheduled_s: Any) -> Any:
    """From the intended (Poisson) send instant to an event ``t_s`` after ``t0``, on the sender's clock: connection setup,
    pool waits and retries included, so no coordinated omission. Rate mode only (None/NaN otherwise). Scalars or arrays."""
    if t0_monotonic is None or t_s is None or run_start_s is None or scheduled_s is None:
        return None
    return (t0_monotonic + t_s) - (run_start_s + scheduled_s)


# Which statuses count for each metric. A TTFT is real for every request that reached a first token, even
# one that later stalled, was interrupted or cancelled; e2e, TPOT and tokens/s need a completed answer.
FIRST_TOKEN_STATUSES = STATUSES
COMPLETED_STATUSES = ("ok",)
METRIC_STATUSES: dict[str, tuple[str, ...]] = {
    "ttft_s": FIRST_TOKEN_STATUSES,
    "ttft_incl_retries_s": FIRST_TOKEN_STATUSES,
    "ttft_from_schedule_s": FIRST_TOKEN_STATUSES,
    "e2e_s": COMPLETED_STATUSES,
    "e2e_incl_retries_s": COMPLETED_STATUSES,
    "e2e_from_schedule_s": COMPLETED_STATUSES,
    "tpot_s": COMPLETED_STATUSES,
    "tokens_per_s": COMPLETED_STATUSES,
}


def counts_for(metric: str, status: Any, stream: Any = True) -> Any:
    """Whether a request's value of ``metric`` enters its statistics (elementwise on arrays).

    Perceived wait is TTFT when streaming (any request with a first token) and e2e when not (completed only).
    Metrics not listed count completed requests only.
    """
    import numpy as np

    status = np.asarray(status, dtype=object)
    if metric == "perceived_wait_s":
        return np.where(np.asarray(stream, dtype=bool), np.isin(status, FIRST_TOKEN_STATUSES), np.isin(status, COMPLETED_STATUSES))
    return np.isin(status, METRIC_STATUSES.get(metric, COMPLETED_STATUSES))


@dataclass(frozen=True)
class Attempt:
    """One failed attempt before the final one (a 429, a 5xx, a connection error), and the wait after it.

    ``started_s`` is from the first attempt's send, ``duration_s`` from this attempt's send to its failure.
    """

    attempt: int
    started_s: float
    duration_s: float
    status: str
    http_status: int | None
    error_type: str | None
    error: str | None
    request_id: str | None
    wait_s: float

    @classmethod
    def from_value(cls, v: Any) -> Attempt:
        if isinstance(v, Attempt):
            return v
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v.get(k) for k in names}
        d["attempt"] = int(d["attempt"] or 0)
        d["started_s"] = float(d["started_s"] or 0.0)
        d["duration_s"] = float(d["duration_s"] or 0.0)
        d["wait_s"] = float(d["wait_s"] or 0.0)
        d["status"] = d["status"] or "error"
        return cls(**d)


def inter_token_latencies(chunk_times: list[float]) -> list[float]:
    """Gaps between consecutive content chunks, as received."""
    return [b - a for a, b in zip(chunk_times, chunk_times[1:])]


def decode_span(ttft: float | None, t_last_token: float | None) -> float | None:
    """Seconds from the first to the last content chunk."""
    if ttft is None or t_last_token is None:
        return None
    return t_last_token - ttft


def time_per_output_token(ttft: float | None, t_last_token: float | None, output_tokens: int | None) -> float | None:
    """TPOT = (t_last_token - TTFT) / (output_tokens - 1); undefined below two tokens."""
    span = decode_span(ttft, t_last_token)
    if span is None or not output_tokens or output_tokens < 2:
        return None
    return span / (output_tokens - 1)


def tokens_per_second(ttft: float | None, t_last_token: float | None, output_tokens: int | None) -> float | None:
    """(output_tokens - 1) / (t_last_token - TTFT): the decode rate a reader sees."""
    span = decode_span(ttft, t_last_token)
    if span is None or span <= 0 or not output_tokens or output_tokens < 2:
        return None
    return (output_tokens - 1) / span


def thinking_time(t_first_reasoning: Any, ttft: Any) -> Any:
    """Seconds from the first streamed reasoning event to the first visible token; None when no reasoning was streamed.

    Scalars, or elementwise on arrays (NaN where undefined).
    """
    if t_first_reasoning is None or ttft is None:
        return None
    if not isinstance(ttft, (int, float)) or not isinstance(t_first_reasoning, (int, float)):
        import numpy as np

        return np.maximum(0.0, np.asarray(ttft, dtype=float) - np.asarray(t_first_reasoning, dtype=float))
    return max(0.0, ttft - t_first_reasoning)


@dataclass
class StreamRecord:
    """One request, successful or not: what was asked, when each part arrived, and what came back."""

    deployment: str
    provider: str
    model: str
    api: str = "chat"
    stream: bool = True
    temperature: float | None = None
    max_tokens: int | None = None
    status: str = "ok"
    error: str | None = None
    error_type: str | None = None
    finish_reason: str | None = None
    response_id: str | None = None
    request_id: str | None = None
    started_at: str | None = None
    http_status: int | None = None
    connect_s: float | None = None  # before t0: waiting for a pooled connection, connecting, TLS
    t_headers_s: float | None = None
    t_first_event_s: float | None = None
    ttft_s: float | None = None
    t_last_token_s: float | None = None
    e2e_s: float | None = None
    output_tokens: int | None = None
    tokens_source: str | None = None
    input_tokens: int | None = None
    chunks: int = 0
    events: int = 0
    retries: int = 0
    retry_wait_s: float = 0.0
    usage_requested: bool = False
    text: str = ""
    ratelimit: dict[str, str] = field(default_factory=dict)
    content_filter: list[Any] = field(default_factory=list)
    chunk_times_s: list[float] = field(default_factory=list)
    chunk_chars: list[int] = field(default_factory=list)
    t0_monotonic: float | None = None
    bad_payload: str | None = None
    attempts: list[Attempt] = field(default_factory=list)
    resume_of: str | None = None  # a "resume" attempt: the response id (else request id) of the attempt it continues
    ttft_incl_retries_s: float | None = None  # from the first attempt's send: what the user waited through retries
    e2e_incl_retries_s: float | None = None
    worker: str | None = None  # scale-out (``--workers``): which worker process sent it, and on which host
    host: str | None = None
    transport: str | None = None  # how it was measured: "wire" (our asyncio stamping), "httpx" (httpx2) or "sdk" (``streaming.timed``)
    transport_version: str | None = None  # the package that did it, e.g. "httpx2 1.0.0" or "streaming 0.9.0"
    t_first_reasoning_s: float | None = None  # first reasoning event (summary delta, reasoning_content); None when none streamed
    reasoning_tokens: int | None = None  # from usage; None when not reported
    cached_tokens: int | None = None  # from usage; None when not reported
    reasoning_effort: str | None = None  # what was asked (None: not a reasoning request)
    adapted: list[str] = field(default_factory=list)  # parameter changes made after a 400 ("max_completion_tokens", "no_temperature")
    reasoning_text: str = ""  # the streamed reasoning summary / reasoning_content
    tool_calls: int = 0  # tool calls in the answer (a tool-call-only answer is a valid one)
    refusal: bool = False  # the model refused (``delta.refusal``, Responses refusal events): the refusal text is the answer
    finish_reason_raw: str | None = None  # the server's own finish reason when it differed from ``finish_reason`` (xAI ``REASON_MAX_LEN``)
    warnings: list[str] = field(default_factory=list)  # what was odd but not a failure ([DONE] with no finish_reason)
    replay_of: str | None = None  # a replay's recorded timings, not a live measurement: "replay of gpt-4o (Azure, recorded 2026-11-20)"

    @property
    def itl_s(self) -> list[float]:
        return inter_token_latencies(self.chunk_times_s)

    @property
    def tpot_s(self) -> float | None:
        return time_per_output_token(self.ttft_s, self.t_last_token_s, self.output_tokens)

    @property
    def tokens_per_s(self) -> float | None:
        return tokens_per_second(self.ttft_s, self.t_last_token_s, self.output_tokens)

    @property
    def thinking_s(self) -> float | None:
        return thinking_time(self.t_first_reasoning_s, self.ttft_s)

    @property
    def perceived_wait_s(self) -> float | None:
        return perceived_wait(self.stream, self.ttft_s, self.e2e_s)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data, with the derived metrics included."""
        d = dataclasses.asdict(self)
        d["itl_s"] = self.itl_s
        d["tpot_s"] = self.tpot_s
        d["tokens_per_s"] = self.tokens_per_s
        d["thinking_s"] = self.thinking_s
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StreamRecord:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in data.items() if k in names}
        if kw.get("attempts"):
            kw["attempts"] = [Attempt.from_value(a) for a in kw["attempts"]]
        return cls(**kw)

    def summary_line(self) -> str:
        """One human line of the headline metrics."""

        def ms(v: float | None) -> str:
            return "n/a" if v is None else f"{v * 1000:.0f} ms"

        parts = [f"status={self.status}"]
        if self.replay_of:
            parts.insert(0, f"{self.replay_of}: recorded timings, not a live measurement")
        parts.append(f"TTFT {ms(self.ttft_s)}" if self.stream else "TTFT n/a (non-streaming)")
        tps = self.tokens_per_s
        parts.append(f"{tps:.1f} tok/s" if tps is not None else "tok/s n/a")
        parts.append(f"{self.output_tokens if self.output_tokens is not None else '?'} tokens ({self.tokens_source or 'n/a'})")
        if self.t_first_reasoning_s is not None:
            parts.append(f"first reasoning {ms(self.t_first_reasoning_s)}, thinking {ms(self.thinking_s)}")
        if self.reasoning_tokens is not None:
            parts.append(f"{self.reasoning_tokens} reasoning tokens")
        parts.append(f"e2e {ms(self.e2e_s)}")
        parts.append(f"finish_reason={self.finish_reason}")
        if self.adapted:
            parts.append(f"adapted after a 400: {', '.join(self.adapted)}")
        if self.retries:
            parts.append(f"retries={self.retries} (waited {self.retry_wait_s:.2f} s)")
            if self.stream and self.ttft_incl_retries_s is not None:
                parts.append(f"TTFT incl. retries {ms(self.ttft_incl_retries_s)}")
            parts.append(f"e2e incl. retries {ms(self.e2e_incl_retries_s)}")
        if self.error:
            parts.append(f"error: {self.error}")
        if self.request_id:
            parts.append(f"request id {self.request_id}")
        return " | ".join(parts)
