"""Saturation: whether a queue built up during a run (latency rising by send time while throughput stays flat).

numpy only, no pandas: a benchmark watches it while it runs, in every process that sends requests (a CLI
``bench``, the Benchmark page's load process, each Ray worker), and importing pandas costs each of them about
0.3 s of CPU. ``analysis.capacity.run_saturation`` applies it to a stored run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SATURATION_MIN_N = 24


@dataclass(frozen=True)
class Saturation:
    """Whether a queue built up during a run: latency rose by send time while throughput stayed flat."""

    flagged: bool
    n: int
    wait_first_s: float
    wait_last_s: float
    rho: float
    rate_first: float
    rate_second: float

    @property
    def sentence(self) -> str:
        if self.n < SATURATION_MIN_N:
            return f"saturation: not judged (only {self.n} finished requests; needs {SATURATION_MIN_N})"
        figures = (f"median wait {self.wait_first_s * 1000:.0f} ms in the first quarter → {self.wait_last_s * 1000:.0f} ms in the last "
                   f"(ρ = {self.rho:.2f}), completions {self.rate_first:.1f}/s → {self.rate_second:.1f}/s")  # fmt: skip
        if self.flagged:
            return f"saturated: latency kept rising while throughput stayed flat, a queue was building ({figures}); lower the load"
        return f"not saturated ({figures})"


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the ranks, ties sharing their mean rank (as ``scipy.stats.spearmanr``).

    Here rather than scipy's because a benchmark watches saturation while it runs, and importing scipy.stats
    would cost each ``bench`` process about a second of CPU."""
    return float(np.corrcoef(_ranks(np.asarray(x, dtype=float)), _ranks(np.asarray(y, dtype=float)))[0, 1])


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank (``pandas.Series.rank``'s default)."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    starts = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1]])
    counts = np.diff(np.r_[starts, len(xs)])
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(starts + (counts + 1) / 2, counts)
    return ranks


def detect_saturation(sent_s: Sequence[float] | np.ndarray, wait_s: Sequence[float] | np.ndarray, done_s: Sequence[float] | np.ndarray) -> Saturation:
    """Saturation from each finished request's send time, perceived wait (NaN for a failure) and finish time (run-relative)."""
    sent, wait, done = (np.asarray(a, dtype=float) for a in (sent_s, wait_s, done_s))
    nan = float("nan")
    keep = np.isfinite(sent) & np.isfinite(done)
    sent, wait, done = sent[keep], wait[keep], done[keep]
    n = int(len(sent))
    if n < SATURATION_MIN_N:
        return Saturation(False, n, nan, nan, nan, nan, nan)
    order = np.argsort(sent, kind="stable")
    w = wait[order]
    q = n // 4
    first, last = w[:q], w[-q:]
    wf = float(np.nanmedian(first)) if np.isfinite(first).any() else nan
    wl = float(np.nanmedian(last)) if np.isfinite(last).any() else nan
    ok = np.isfinite(w)
    rho = spearman(sent[order][ok], w[ok]) if ok.sum() >= 3 and np.ptp(w[ok]) > 0 else 0.0
    lo, hi = float(done.min()), float(done.max())
    mid = (lo + hi) / 2
    half = (hi - lo) / 2
    rate_first = float((done <= mid).sum() / half) if half > 0 else nan
    rate_second = float((done > mid).sum() / half) if half > 0 else nan
    rising = not math.isnan(wf) and not math.isnan(wl) and wl >= 1.5 * wf and wl - wf >= 0.05 and rho >= 0.5
    flat = not math.isnan(rate_first) and rate_second <= 1.15 * rate_first
    return Saturation(bool(rising and flat), n, wf, wl, rho, rate_first, rate_second)
