"""Statistics for latency samples: percentiles, bootstrap confidence intervals, paired and unpaired tests.

Pure functions on arrays and DataFrames (numpy/scipy; no streamlit, no I/O).

- Percentiles use numpy's default ``linear`` method (Hyndman & Fan type 7: linear interpolation
  between the two order statistics around ``(n - 1) * q``).
- A percentile is *flagged* when the sample cannot support it: fewer than one observation is expected
  above it (``n * (1 - q) < 1``), so it is essentially the maximum (p99 with n < 100, p95 with n < 20 ...).
- Confidence intervals are percentile-bootstrap intervals with a bounded number of resamples and a seed;
  a sample of fewer than ``MIN_N_FOR_CI`` (2) values has none (``lo``/``hi`` NaN).
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

PERCENTILE_METHOD = "linear"


DEFAULT_RESAMPLES = 1000


DEFAULT_SEED = 0


MIN_N_FOR_CI = 2  # below this, an estimate has no confidence interval (lo and hi are NaN)
NO_CI_REASON = "no confidence interval from a single request: it needs at least 2 (n < 2)"


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
        ci = "[—]" if math.isnan(lo) or math.isnan(hi) else f"[{lo:.{digits}g}–{hi:.{digits}g}]"
        return f"{v:.{digits}g}{unit} {ci} n={self.n}{flag}"


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
    from scipy import stats as sps  # on first use: importing scipy.stats costs a CLI start about a second
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
    if n < MIN_N_FOR_CI:  # one value: no spread to resample, so no interval (never a zero-width "CI")
        nan = float("nan")
        return [Estimate(float(p), nan, nan, n, not is_supported(n, q), float(q), confidence) for p, q in zip(points, qarr)]
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


def _weighted_quantiles(sorted_x: np.ndarray, weights: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """Quantiles (numpy's ``linear`` rule on the expanded sample) of ``sorted_x`` repeated ``weights[r]`` times, per row r.

    ``weights`` is (rows × n) of non-negative integers; returns (len(qs) × rows)."""
    cum = np.cumsum(weights, axis=1)
    total = cum[:, -1]
    out = np.empty((qs.size, weights.shape[0]))
    for k, q in enumerate(qs):
        h = (total - 1) * q
        lo = np.floor(h)
        frac = h - lo
        # the value at 0-based rank j of the expanded sample: the first i whose cumulative count exceeds j
        i_lo = np.array([np.searchsorted(c, j, side="right") for c, j in zip(cum, lo)])
        i_hi = np.array([np.searchsorted(c, j, side="right") for c, j in zip(cum, np.minimum(lo + 1, total - 1))])
        n = sorted_x.size - 1
        out[k] = sorted_x[np.minimum(i_lo, n)] * (1 - frac) + sorted_x[np.minimum(i_hi, n)] * frac
    return out


def _cluster_quantiles(sorted_x: np.ndarray, codes: np.ndarray, k: int, counts: np.ndarray, qs: np.ndarray) -> np.ndarray:
    """``_weighted_quantiles`` with weights ``counts[:, codes]``, without expanding them: (len(qs) × resamples)."""
    n = sorted_x.size
    per = np.zeros((n, k), dtype=np.int32)
    per[np.arange(n), codes] = 1
    cum = np.cumsum(per, axis=0)  # cum[i, c]: requests of prompt c among the i+1 smallest values (rows contiguous: fast gathers)
    total = counts @ cum[-1]
    rows = np.arange(counts.shape[0])

    def index_of(rank: np.ndarray) -> np.ndarray:
        """Per resample, the smallest i whose weighted cumulative count exceeds ``rank`` (0-based)."""
        lo, hi = np.zeros(rows.size, dtype=np.int64), np.full(rows.size, n - 1, dtype=np.int64)
        while np.any(lo < hi):
            mid = (lo + hi) // 2
            below = np.einsum("rk,rk->r", counts, cum[mid]) <= rank
            lo, hi = np.where(below, mid + 1, lo), np.where(below, hi, mid)
        return lo

    out = np.empty((qs.size, rows.size))
    for j, q in enumerate(qs):
        h = (total - 1) * q
        r_lo = np.floor(h)
        frac = h - r_lo
        out[j] = sorted_x[index_of(r_lo)] * (1 - frac) + sorted_x[index_of(np.minimum(r_lo + 1, total - 1))] * frac
    return out


def cluster_bootstrap_quantiles(
    x: Sequence[float] | np.ndarray,
    clusters: Sequence[object] | np.ndarray | None,
    qs: Sequence[float],
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> list[Estimate]:
    """Like ``bootstrap_quantiles``, but resampling whole clusters (prompts) when they repeat.

    Requests on the same prompt are not independent: resampling requests then gives intervals that are too narrow.
    Each resample draws as many prompts as there are, with replacement, and keeps all of each drawn prompt's
    requests. With no cluster repeated (or no clusters) it is the ordinary bootstrap. ``n`` stays the number of requests.
    """
    a = np.asarray(x, dtype=float)
    if clusters is None:
        return bootstrap_quantiles(a, qs, confidence, resamples, seed)
    keep = np.isfinite(a)
    a = a[keep]
    codes, uniques = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)[keep]), use_na_sentinel=False)
    k = len(uniques)
    if a.size < 2 or k >= a.size or k < 2:  # nothing repeats (or one cluster: no between-prompt spread to draw on)
        return bootstrap_quantiles(a, qs, confidence, resamples, seed)
    order = np.argsort(a, kind="stable")
    s, c = a[order], codes[order]
    qarr = np.asarray(qs, dtype=float)
    rng = np.random.default_rng(seed)
    draws = np.empty((qarr.size, resamples))
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=resamples)  # how often each prompt is drawn, per resample
    if k * a.size <= 5_000_000:  # few prompts: binary search on per-prompt cumulative counts (O(k·n + resamples·k·log n))
        draws[:] = _cluster_quantiles(s, c, k, counts, qarr)
    else:  # many prompts: expand the weights, in blocks of bounded memory
        block = max(1, _DIRECT_BUDGET * 5 // a.size)
        for start in range(0, resamples, block):
            draws[:, start:start + block] = _weighted_quantiles(s, counts[start:start + block][:, c], qarr)
    points = np.quantile(a, qarr, method=PERCENTILE_METHOD)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(draws, [alpha, 1.0 - alpha], axis=1)
    n = a.size
    return [Estimate(float(p), float(l_), float(h_), n, not is_supported(n, q), float(q), confidence) for p, l_, h_, q in zip(points, lo, hi, qarr)]
