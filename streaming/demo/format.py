"""The live demo's words: a status word, one sentence for a failure, the metrics row under an answer.
"""

from __future__ import annotations

from streaming.core.record import StreamRecord


API_NAMES = {"chat": "Chat Completions API", "responses": "Responses API", "completions": "legacy Completions API"}


def _ms(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"


def status_word(status: str) -> str:
    """The word the page shows for a record's status."""
    return {"ok": "done", "cancelled": "stopped", "interrupted": "interrupted", "stalled": "stalled", "filtered": "filtered"}.get(status, "failed")


def failure_sentence(rec: StreamRecord) -> str | None:
    """One plain sentence for a failed or stopped turn, with the request id for support; None when it went fine."""
    if rec.ok:
        return None
    if rec.status == "cancelled":
        return "Stopped: the partial answer is kept."
    what = (rec.error or "the request failed").rstrip(".")
    what = what[0].upper() + what[1:]
    kept = " The partial answer is kept." if rec.text and "partial" not in what else ""
    rid = rec.request_id or rec.response_id
    return f"{what}.{kept}" + (f" Request id: {rid}." if rid else "")


def metrics_line(rec: StreamRecord, temperature: float | None = None) -> str:
    """The row under a finished answer: TTFT, tok/s, output tokens, e2e, finish_reason, deployment, the API, temperature."""
    parts = [status_word(rec.status)]
    reasoning = rec.reasoning_tokens is not None and rec.reasoning_tokens > 0 or rec.t_first_reasoning_s is not None
    if rec.t_first_reasoning_s is not None:
        parts.append(f"first reasoning {_ms(rec.t_first_reasoning_s)}")
    parts.append(f"TTFT {_ms(rec.ttft_s)}" if rec.stream else "TTFT n/a (non-streaming)")
    if rec.thinking_s is not None:
        parts.append(f"thinking {_ms(rec.thinking_s)}")
    if rec.reasoning_tokens:
        parts.append(f"{rec.reasoning_tokens} reasoning tokens")
    tps = rec.tokens_per_s
    label = "visible tok/s" if reasoning else "tok/s"
    parts.append(f"{tps:.1f} {label}" if tps is not None else f"{label} n/a")
    parts.append(f"{rec.output_tokens if rec.output_tokens is not None else '?'} output tokens")
    parts.append(f"e2e {_ms(rec.e2e_s)}")
    parts.append(f"finish_reason {rec.finish_reason or 'none'}")
    parts.append(rec.deployment)
    parts.append(API_NAMES.get(rec.api, f"{rec.api} API"))
    t = rec.temperature if rec.temperature is not None else temperature
    if rec.reasoning_effort:
        parts.append(f"effort {rec.reasoning_effort}")
    else:
        parts.append(f"temperature {t:g}" if t is not None else "temperature default")
    if rec.retries:
        parts.append(f"{rec.retries} retries ({rec.retry_wait_s:.1f} s waited, not in TTFT)")
    return " · ".join(parts)
