"""Tables for people: headers in words, times in ms, "—" for a missing value, no confidence interval for n < 2.

The figures come from ``tables``, ``capacity``, ``reasoning`` and ``charts``; this only relabels and formats them.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import pandas as pd

from streaming.analysis.estimators import NO_CI_REASON, Estimate

MISSING = "—"  # a value that does not exist (no request counts for it); pages pass it as st.dataframe's placeholder

KEY_LABELS = {"deployment": "deployment", "temperature": "temperature", "mode": "mode", "api": "API", "reasoning_effort": "reasoning effort"}

THROUGHPUT_LABELS = {
    "n": "requests", "span": "span", "duration_s": "span (s)", "runs": "runs", "workers": "workers",
    "requests_per_s": "requests/s", "output_tokens_per_s": "output tokens/s", "input_tokens_per_s": "input tokens/s",
    "goodput_requests_per_s": "goodput requests/s", "goodput_tokens_per_s": "goodput tokens/s", "slo_met": "meeting the SLOs (%)",
}  # fmt: skip

TABLE_HELP = f"{MISSING}: no value (no request counts for it); [{MISSING}]: {NO_CI_REASON}."


def _missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA


def readable_keys(df: pd.DataFrame) -> pd.DataFrame:
    """The grouping columns in words: ``reasoning_effort`` → "reasoning effort", the server's default temperature / effort as "default"."""
    out = df.copy()
    if "temperature" in out.columns:
        out["temperature"] = ["default" if _missing(t) else f"{float(t):g}" for t in out["temperature"]]
    for c in ("api", "reasoning_effort"):
        if c in out.columns:
            out[c] = ["default" if _missing(v) else str(v) for v in out[c]]
    return out.rename(columns=KEY_LABELS)


def ci_cell(value: float, lo: float, hi: float, fmt: Callable[[float], str]) -> str:
    """``120 [110–135]``; ``120 [—]`` with no interval (n < 2); ``—`` with no value."""
    if _missing(value):
        return MISSING
    ci = f"[{MISSING}]" if _missing(lo) or _missing(hi) else f"[{fmt(lo)}–{fmt(hi)}]"
    return f"{fmt(value)} {ci}"


def ci_caption(e: Estimate, fmt: Callable[[float], str]) -> tuple[str, str | None]:
    """A headline's caption and its help: ``95 % CI 110 ms–135 ms · n=12``, or ``95 % CI — · n=1`` with the reason as help."""
    if _missing(e.lo) or _missing(e.hi):
        return f"95 % CI {MISSING} · n={e.n}", NO_CI_REASON[0].upper() + NO_CI_REASON[1:] + "."
    return f"95 % CI {fmt(e.lo)}–{fmt(e.hi)} · n={e.n}", None


def throughput_table(summary: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The Metrics page's Throughput table: ``columns`` of ``tables.summarize`` with headers in words, rates rounded."""
    t = summary[columns].copy()
    for c in t.columns:
        if c == "slo_met":
            t[c] = (t[c].astype(float) * 100).round(1)
        elif c in ("runs", "workers", "n"):
            t[c] = t[c].astype("Int64")
        elif c in THROUGHPUT_LABELS and c != "span":
            t[c] = t[c].astype(float).round(2)
    return readable_keys(t).rename(columns=THROUGHPUT_LABELS)


def stalls_table(stalls: pd.DataFrame) -> pd.DataFrame:
    """``charts.stalls`` for people: ids, how many gaps over the threshold, and the longest gap in ms."""
    out = stalls.assign(max_gap_s=(stalls["max_gap_s"].astype(float) * 1000).round(0))
    return out.rename(columns={"response_id": "response id", "request_id": "request id", "stalls": "gaps over the threshold",
                               "max_gap_s": "longest gap (ms)"})  # fmt: skip


def effort_table(table: pd.DataFrame, metrics: dict[str, str]) -> pd.DataFrame:
    """``reasoning.effort_table`` for people: each metric as ``median [95 % CI]``, times in ms like the other tables."""
    out = table[["deployment", "api", "effort", "n"]].rename(columns={"api": "API", "effort": "reasoning effort"})
    for name in metrics:
        in_ms = name in ("TTFT", "thinking")
        scale = 1000.0 if in_ms else 1.0
        fmt: Callable[[float], str] = (lambda v: f"{v:.0f}") if in_ms or name == "reasoning tokens" else (lambda v: f"{v:.1f}")
        label = f"{name} (ms)" if in_ms else name
        out[label] = [ci_cell(v * scale, lo * scale, hi * scale, fmt) for v, lo, hi in zip(table[name], table[f"{name} lo"], table[f"{name} hi"])]
    return out
