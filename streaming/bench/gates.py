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
