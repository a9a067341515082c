"""Tables and counts for people: stopped requests apart from failures, no CI from one request, ms and words in headers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from streaming.analysis import charts as C
from streaming.analysis.display import effort_table, stalls_table
from streaming.analysis.estimators import bootstrap_quantiles, cluster_bootstrap_quantiles, median_ci
from streaming.analysis.failures import error_summary
from streaming.analysis.reasoning import EFFORT_METRICS
from streaming.analysis.reasoning import effort_table as effort_figures
from streaming.analysis.slo_check import slo_estimate
from streaming.analysis.capacity import parse_slo
from streaming.core.record import outcome_counts


def test_one_request_has_no_confidence_interval() -> None:
    for e in (median_ci([0.25]), bootstrap_quantiles([0.25], [0.5, 0.9])[1], cluster_bootstrap_quantiles([0.25], ["p"], [0.5])[0]):
        assert e.value == 0.25 and e.n == 1 and math.isnan(e.lo) and math.isnan(e.hi)
    assert "[—]" in median_ci([0.25]).fmt()
    two = median_ci([0.2, 0.3])
    assert two.lo <= two.value <= two.hi and not math.isnan(two.lo)


def statuses() -> pd.DataFrame:
    t0 = pd.Timestamp("2026-11-20T10:00:00Z")
    status = ["ok", "ok", "error", "cancelled", "cancelled", "ok"]
    return pd.DataFrame({
        "status": status, "started_at": [(t0 + pd.Timedelta(seconds=i)).isoformat() for i in range(6)],
        "retries": [0] * 6, "http_status": [200, 200, 500, 200, 200, 200], "error_type": [None, None, "http_500", "cancelled", "cancelled", None],
        "error": [None, None, "HTTP 500: the server had an internal error", "stopped by the user", "stopped by the user", None],
        "request_id": [f"r{i}" for i in range(6)],
    })  # fmt: skip


def test_stopped_is_counted_apart_from_failed() -> None:
    df = statuses()
    assert outcome_counts(df["status"]) == (3, 1, 2)
    fig = C.errors_over_time(df)
    bars = {t.name: float(np.sum(t.y)) for t in fig.data}
    assert bars["failed requests"] == 1 and bars["stopped by the user"] == 2
    said = error_summary(df)
    assert said == ["1 request failed: HTTP 500: the server had an internal error. Example request id: r2."]  # no "were cancelled" line
    e = slo_estimate(df, parse_slo("error_rate <= 0.1"))
    assert e.n == 4 and e.value == 0.25  # 1 failure among the 4 requests not stopped


def test_reasoning_table_in_ms_with_a_dash_for_no_ci() -> None:
    rows = [{"deployment": "sim-reasoning", "api": "responses", "reasoning_effort": e, "status": "ok", "stream": True, "ttft_s": t,
             "thinking_s": t - 0.05, "reasoning_tokens": 40.0, "tokens_per_s": 50.0}
            for e, ts in (("low", [0.20, 0.30, 0.25]), ("high", [0.9])) for t in ts]  # fmt: skip
    table = effort_table(effort_figures(pd.DataFrame(rows)), EFFORT_METRICS)
    assert list(table.columns) == ["deployment", "API", "reasoning effort", "n", "TTFT (ms)", "thinking (ms)", "reasoning tokens", "visible tokens/s"]
    low, high = (table[table["reasoning effort"] == e].iloc[0] for e in ("low", "high"))
    assert low["TTFT (ms)"].startswith("250 [") and low["thinking (ms)"].startswith("200 [")  # ms like every other table, not 0.25 s
    assert high["TTFT (ms)"] == "900 [—]" and high["n"] == 1


def test_stalls_table_headers_in_words_and_ms() -> None:
    t = stalls_table(pd.DataFrame({"deployment": ["a"], "response_id": ["x"], "request_id": ["y"], "stalls": [2], "max_gap_s": [1.234]}))
    assert list(t.columns) == ["deployment", "response id", "request id", "gaps over the threshold", "longest gap (ms)"]
    assert t["longest gap (ms)"].iloc[0] == 1234
