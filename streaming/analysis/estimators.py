"""Statistics for latency samples: percentiles, bootstrap confidence intervals, paired and unpaired tests.

Pure functions on arrays and DataFrames (numpy/scipy; no streamlit, no I/O).

- Percentiles use numpy's default ``linear`` method (Hyndman & Fan type 7: linear interpolation
  between the two order statistics around ``(n - 1) * q``).
- A percentile is *flagged* when the sample cannot support it: fewer than one observation is expected
  above it (``n * (1 - q) < 1``), so it is essentially the maximum (p99 with n < 100, p95 with n < 20 ...).
- Confidence intervals are percentile-bootstrap intervals with a bounded number of resamples and a seed.
  For small samples we resample the data directly; when ``resamples * n`` would exceed a memory budget we draw
  the resampled order statistic from its exact bootstrap distribution (a binomial CDF over the sorted data),
  which costs O(n + resamples * log n) and gives the same distribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

PERCENTILE_METHOD = "linear"


DEFAULT_RESAMPLES = 1000


DEFAULT_SEED = 0


_DIRECT_BUDGET = 200_000  # resamples * n above this (n > 200 at 1,000 resamples) uses the order-statistic shortcut


METRIC_LABELS: dict[str, str] = {
    "ttft_s": "TTFT (s)",
    "e2e_s": "end-to-end (s)",
    "tpot_s": "TPOT (s/token)",
    "tokens_per_s": "tokens/s",
    "perceived_wait_s": "perceived wait (s)",
}


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap confidence interval, sample size and support flag."""

    value: float
    lo: float
    hi: float
    n: int
    flagged: bool = False
    q: float = 0.5
    confidence: float = 0.95

    def fmt(self, scale: float = 1.0, digits: int = 3, unit: str = "") -> str:
        """``0.123 [0.110–0.140] n=50`` with a ``⚑ max`` flag when the sample cannot support the percentile."""
        if self.n == 0 or math.isnan(self.value):
            return f"n/a (n={self.n})"
        v, lo, hi = (x * scale for x in (self.value, self.lo, self.hi))
        flag = " ⚑ ≈max" if self.flagged else ""
        return f"{v:.{digits}g}{unit} [{lo:.{digits}g}–{hi:.{digits}g}] n={self.n}{flag}"


def clean(x: Sequence[float] | np.ndarray | pd.Series) -> np.ndarray:
    """A float array without NaN/None/inf."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiu":
        a = x.astype(float, copy=False)
    else:
        a = pd.to_numeric(pd.Series(x, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    return a[np.isfinite(a)]


def min_n_for(q: float) -> int:
    """Smallest n at which percentile ``q`` is not flagged (p99 → 100, p95 → 20, p90 → 10, p50 → 2)."""
    tail = min(q, 1.0 - q)
    return 1 if tail <= 0 else math.ceil(1.0 / tail - 1e-9)


def is_supported(n: int, q: float) -> bool:
    """Whether a sample of n can estimate percentile q rather than just report an extreme."""
    return n >= min_n_for(q)


def percentile(x: Sequence[float] | np.ndarray, q: float) -> float:
    """Percentile q in [0, 1] with numpy's ``linear`` method; NaN for an empty sample."""
    a = clean(x)
    return float(np.quantile(a, q, method=PERCENTILE_METHOD)) if a.size else float("nan")


def _boot_direct(a: np.ndarray, qs: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    idx = rng.integers(0, a.size, size=(resamples, a.size))
    return np.quantile(a[idx], qs, axis=1, method=PERCENTILE_METHOD)  # (len(qs), resamples)


def _boot_order_stat(s: np.ndarray, qs: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap draws of the q-quantile via the exact distribution of the resample's order statistic.

    The j-th smallest of n draws with replacement is ≤ s[i-1] iff at least j draws fall among the i smallest
    values, which is Binomial(n, i/n) ≥ j. Interpolation between neighbours is dropped (negligible at this n).
    """
    n = s.size
    i = np.arange(1, n + 1)
    out = np.empty((qs.size, resamples))
    for k, q in enumerate(qs):
        j = int(np.clip(round((n - 1) * q) + 1, 1, n))
        cdf = sps.binom.sf(j - 1, n, i / n)
        u = rng.random(resamples)
        out[k] = s[np.minimum(np.searchsorted(cdf, u, side="left"), n - 1)]
    return out


def bootstrap_draws(sorted_x: np.ndarray, qs: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``resamples`` bootstrap draws of each quantile in ``qs`` (shape ``len(qs) × resamples``) from sorted data:
    resampling the data directly when small, else drawing the order statistic from its exact bootstrap distribution."""
    if resamples * sorted_x.size <= _DIRECT_BUDGET:
        return _boot_direct(sorted_x, qs, resamples, rng)
    return _boot_order_stat(sorted_x, qs, resamples, rng)


def bootstrap_quantiles(
    x: Sequence[float] | np.ndarray,
    qs: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> list[Estimate]:
    """Point estimate, percentile-bootstrap CI and support flag for each percentile in ``qs``."""
    a = np.sort(clean(x))
    qarr = np.asarray(qs, dtype=float)
    n = a.size
    if n == 0:
        nan = float("nan")
        return [Estimate(nan, nan, nan, 0, True, float(q), confidence) for q in qarr]
    points = np.quantile(a, qarr, method=PERCENTILE_METHOD)
    if n == 1:
        return [Estimate(float(p), float(p), float(p), 1, not is_supported(1, q), float(q), confidence) for p, q in zip(points, qarr)]
    rng = np.random.default_rng(seed)
    draws = bootstrap_draws(a, qarr, resamples, rng)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(draws, [alpha, 1.0 - alpha], axis=1)
    return [
        Estimate(float(p), float(l_), float(h_), n, not is_supported(n, q), float(q), confidence)
        for p, l_, h_, q in zip(points, lo, hi, qarr)
    ]


def median_ci(x: Sequence[float] | np.ndarray, confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> Estimate:
    """Median with a percentile-bootstrap confidence interval."""
    return bootstrap_quantiles(x, [0.5], confidence, resamples, seed)[0]
