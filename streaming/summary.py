"""The summary of a run and the CI gates on it: percentiles per (deployment, temperature, mode), ``--fail-if``."""

from __future__ import annotations

import operator
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigError
from .matrix import cell_label
from .store import load_requests

METRICS = {"ttft": "ttft_s", "e2e": "e2e_s", "tpot": "tpot_s", "tokens_per_s": "tokens_per_s", "wait": "perceived_wait_s"}
PCTS = (50, 90, 95, 99)
KEYS = ["deployment", "temperature", "mode"]


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (deployment, temperature, mode): n, ok, errors, error_rate, retries, retry_wait_s,
    and {ttft,e2e,tpot,tokens_per_s,wait}_p{50,90,95,99} over successful requests (seconds; tokens/s)."""
    rows = []
    if not len(df):
        return pd.DataFrame(columns=[*KEYS, "n", "ok", "errors", "error_rate", "retries", "retry_wait_s"])
    for key, g in df.groupby(KEYS, dropna=False, sort=True):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = dict(zip(KEYS, key))
        row.update(n=len(g), ok=len(ok), errors=len(g) - len(ok), error_rate=(len(g) - len(ok)) / len(g),
                   retries=int(g["retries"].fillna(0).sum()), retry_wait_s=float(g["retry_wait_s"].fillna(0).sum()))  # fmt: skip
        for name, col in METRICS.items():
            values = ok[col].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            for p in PCTS:
                row[f"{name}_p{p}"] = float(np.percentile(values, p)) if len(values) else float("nan")
        lag = g["schedule_lag_s"].to_numpy(dtype=float)
        lag = lag[~np.isnan(lag)]
        row["schedule_lag_p99"] = float(np.percentile(lag, 99)) if len(lag) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def run_summary(db_path: str, run_id: str) -> pd.DataFrame:
    return summarize(load_requests(db_path, [run_id], timelines=False))


_COND = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$")
_OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne}


SUMMARY_METRICS = ("n", "ok", "errors", "error_rate", "retries", "retry_wait_s",
                   *(f"{m}_p{p}" for m in METRICS for p in PCTS), "schedule_lag_p99")  # fmt: skip


def parse_condition(text: str) -> tuple[str, str, float]:
    """ "ttft_p95 > 0.8" → ("ttft_p95", ">", 0.8). ConfigError when it does not parse or names no metric."""
    m = _COND.match(text)
    if not m:
        raise ConfigError(f"--fail-if {text!r}: write it as METRIC OP NUMBER, e.g. \"ttft_p95 > 0.8\" (seconds) or \"error_rate > 0\"")
    if m.group(1) not in SUMMARY_METRICS:
        raise ConfigError(f"--fail-if {text!r}: unknown metric '{m.group(1)}'; one of {list(SUMMARY_METRICS)}")
    return m.group(1), m.group(2), float(m.group(3))


def failed_conditions(summary: pd.DataFrame, conditions: Sequence[str]) -> list[str]:
    """The conditions that hold on some summary row, one sentence each (empty: the gate passes)."""
    out = []
    for text in conditions:
        metric, op, value = parse_condition(text)
        if metric not in summary.columns:
            continue  # an empty run has no rows to hold on
        for _, row in summary.iterrows():
            v = row[metric]
            if v is not None and not pd.isna(v) and _OPS[op](float(v), value):
                out.append(f"{metric} {op} {value:g} holds for {cell_label(row['deployment'], row['temperature'], row['mode'])} ({float(v):.4g})")
    return out


