"""``--fail-if``: conditions on a run's summary that fail a CI job, each explained in one sentence.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence

import pandas as pd

from streaming.analysis.tables import SUMMARY_METRICS
from streaming.bench.matrix import cell_label
from streaming.errors import ConfigError

_COND = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$")


_OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne}


def parse_condition(text: str) -> tuple[str, str, float]:
    """ "ttft_p95 > 0.8" → ("ttft_p95", ">", 0.8). ConfigError when it does not parse or names no metric."""
    m = _COND.match(text)
    if not m:
        raise ConfigError(f"--fail-if {text!r}: write it as METRIC OP NUMBER, e.g. \"ttft_p95 > 0.8\" (seconds) or \"error_rate > 0\"")
    if m.group(1) not in SUMMARY_METRICS:
        raise ConfigError(f"--fail-if {text!r}: unknown metric '{m.group(1)}'; one of {list(SUMMARY_METRICS)}")
    return m.group(1), m.group(2), float(m.group(3))


# Metrics a non-streaming request does not have, and those only a rate-mode (--rate) run has.
_STREAM_ONLY = ("ttft_", "tpot_", "tokens_per_s_")
_RATE_ONLY = ("ttft_from_schedule_", "e2e_from_schedule_", "schedule_lag_")


def failed_conditions(summary: pd.DataFrame, conditions: Sequence[str]) -> list[str]:
    """The conditions that hold on some summary row, one sentence each (empty: the gate passes).

    A condition that cannot be checked fails the gate: an empty run, a metric with no value in a cell
    (no request that counts for it, e.g. every request failed), or a metric undefined for the run's mode.
    """
    out = []
    for text in conditions:
        metric, op, value = parse_condition(text)
        cond = f"{metric} {op} {value:g}"
        if summary.empty:
            out.append(f"{cond} cannot be checked: the run has no requests")
            continue
        rows = summary
        if metric.startswith(_STREAM_ONLY) and "mode" in summary.columns:
            rows = summary[summary["mode"] != "non-stream"]  # undefined there, by definition; not a missing value
            if rows.empty:
                out.append(f"{cond} cannot be checked: {metric} is undefined for non-streaming requests, and the run has no streaming ones")
                continue
        if metric.startswith(_RATE_ONLY) and ("schedule_lag_p99" not in summary.columns or summary["schedule_lag_p99"].isna().all()):
            out.append(f"{cond} cannot be checked: {metric} is defined only in rate mode (--rate), and this run was not one")
            continue
        for _, row in rows.iterrows():
            label = cell_label(row["deployment"], row["temperature"], row["mode"])
            v = row[metric] if metric in row.index else None
            if v is None or pd.isna(v):
                if "errors" not in row.index:
                    why = "no request counts for it"
                elif int(row.get("stopped", 0) or 0) == int(row["n"]):
                    why = f"all {int(row['n'])} requests were stopped by the user"
                else:
                    why = f"{int(row['errors'])} of {int(row['n'])} requests failed"
                out.append(f"{cond} cannot be checked for {label}: {metric} has no value ({why})")
            elif _OPS[op](float(v), value):
                out.append(f"{cond} holds for {label} ({float(v):.4g})")
    return out
