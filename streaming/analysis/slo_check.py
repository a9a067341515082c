"""An SLO checked on a group of requests: its metric with a 95 % CI, and whether the limit holds (and surely).

Above ``analysis.tables`` (a summary-level SLO reads ``summarize``) and ``analysis.capacity`` (the ``Slo`` itself).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from streaming.analysis.capacity import Slo
from streaming.analysis.estimators import Estimate, bootstrap_quantiles
from streaming.analysis.tables import summarize
from streaming.core.record import outcome_counts


def error_rate_ci(errors: int, n: int, confidence: float = 0.95) -> Estimate:
    """Error rate with a Wilson score interval."""
    from scipy import stats as sps  # on first use: importing scipy.stats costs a CLI start about a second
    if n == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, 0)
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    p = errors / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return Estimate(p, max(0.0, c - h), min(1.0, c + h), n, q=p, confidence=confidence)


def slo_estimate(df: pd.DataFrame, slo: Slo) -> Estimate:
    """The SLO's metric over ``df`` with a 95 % CI (bootstrap for percentiles, Wilson for error_rate; else exact)."""
    ok = df[df["status"] == "ok"]
    q, col = slo.quantile, slo.column
    if q is not None and col is not None:
        return bootstrap_quantiles(ok[col].to_numpy(dtype=float, na_value=np.nan), [q])[0]
    if slo.metric == "error_rate":
        _, failed, stopped = outcome_counts(df["status"])  # a request the user stopped is not a failure
        return error_rate_ci(failed, int(len(df)) - stopped)
    s = summarize(df)
    v = float(s[slo.metric].max()) if len(s) and slo.metric in s.columns else float("nan")  # the worst cell, as --fail-if
    return Estimate(v, v, v, int(len(df)))


def verdict(slo: Slo, e: Estimate) -> tuple[bool, bool]:
    """(holds on the point estimate, certain: the whole CI is on the same side of the limit)."""
    holds = slo.holds(e.value)
    if math.isnan(e.lo) or math.isnan(e.hi):
        return holds, False
    return holds, slo.holds(e.lo) == holds and slo.holds(e.hi) == holds
