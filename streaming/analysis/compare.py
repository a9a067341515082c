"""Statistical comparisons: difference in medians with a bootstrap CI, Mann-Whitney U, Cliff's delta, paired ratios.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

from streaming.analysis.estimators import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    bootstrap_draws,
    clean,
    median_ci,
)


@dataclass(frozen=True)
class Comparison:
    """Two independent samples compared: difference in medians (b − a) with CI, Mann-Whitney U and Cliff's delta."""

    label_a: str
    label_b: str
    n_a: int
    n_b: int
    median_a: float
    median_b: float
    diff: float
    diff_lo: float
    diff_hi: float
    p_value: float
    effect: float  # Cliff's delta, P(b > a) - P(b < a), in [-1, 1]
    test: str = "Mann-Whitney U (two-sided)"

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05 and not (self.diff_lo <= 0 <= self.diff_hi)


@dataclass(frozen=True)
class PairedComparison:
    """Stream vs non-stream perceived wait on the same prompts: per-prompt ratio and Wilcoxon signed-rank test."""

    n_pairs: int
    median_stream: float
    median_nonstream: float
    ratio: Estimate  # median over prompts of non-stream wait / stream wait
    diff: Estimate  # median over prompts of non-stream wait − stream wait (s)
    p_value: float
    test: str = "Wilcoxon signed-rank (two-sided)"


def diff_in_medians(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> Estimate:
    """median(b) − median(a) with a bootstrap CI from independent resamples of each sample."""
    xa, xb = np.sort(clean(a)), np.sort(clean(b))
    if xa.size == 0 or xb.size == 0:
        nan = float("nan")
        return Estimate(nan, nan, nan, min(xa.size, xb.size), True, 0.5, confidence)
    rng = np.random.default_rng(seed)
    q = np.array([0.5])

    def draws(s: np.ndarray) -> np.ndarray:
        if s.size == 1:
            return np.full(resamples, s[0])
        return bootstrap_draws(s, q, resamples, rng)[0]

    d = draws(xb) - draws(xa)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
    value = float(np.median(xb) - np.median(xa))
    return Estimate(value, float(lo), float(hi), min(xa.size, xb.size), False, 0.5, confidence)


def cliffs_delta(a: np.ndarray, b: np.ndarray) -> float:
    """Cliff's delta P(b > a) − P(b < a), from ranks (O(n log n)); equals the rank-biserial correlation."""
    xa, xb = clean(a), clean(b)
    if xa.size == 0 or xb.size == 0:
        return float("nan")
    u_b = sps.mannwhitneyu(xb, xa, alternative="two-sided", method="asymptotic").statistic
    return float(2.0 * u_b / (xa.size * xb.size) - 1.0)


def compare(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    label_a: str = "A",
    label_b: str = "B",
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> Comparison:
    """Compare two independent samples: difference in medians (b − a), Mann-Whitney U p-value, Cliff's delta."""
    xa, xb = clean(a), clean(b)
    d = diff_in_medians(xa, xb, resamples=resamples, seed=seed)
    if xa.size and xb.size:
        res = sps.mannwhitneyu(xb, xa, alternative="two-sided", method="auto" if xa.size * xb.size < 250_000 else "asymptotic")
        p = float(res.pvalue)
        delta = float(2.0 * res.statistic / (xa.size * xb.size) - 1.0)
        ma, mb = float(np.median(xa)), float(np.median(xb))
    else:
        p = delta = ma = mb = float("nan")
    return Comparison(label_a, label_b, int(xa.size), int(xb.size), ma, mb, d.value, d.lo, d.hi, p, delta)


def paired_frame(df: pd.DataFrame, value: str = "perceived_wait_s", keys: Sequence[str] = ("deployment", "temperature", "prompt_id")) -> pd.DataFrame:
    """One row per prompt (within ``keys``) with the median stream and non-stream wait: columns stream, non_stream, ratio."""
    need = set(keys) | {"mode", value}
    if df.empty or not need <= set(df.columns):
        return pd.DataFrame(columns=[*keys, "stream", "non_stream", "ratio", "n_stream", "n_non_stream"])
    if "prompt_id" in keys and "pair_id" in df.columns:
        # a request without a prompt id (a demo turn) pairs only with its own twin (a race's pair_id), never with unrelated turns
        pid = df["prompt_id"].astype(object)
        own = df["pair_id"].astype(object).map(lambda v: None if v is None or v != v else f"pair:{v}")
        df = df.assign(prompt_id=pid.where(pid.notna(), own))
        df = df[df["prompt_id"].notna()]
    ok = df[(df["status"] == "ok") if "status" in df.columns else slice(None)]
    ok = ok[ok[value].notna()]
    g = ok.groupby([*keys, "mode"], dropna=False, observed=True)[value].agg(["median", "size"]).unstack("mode")
    if ("median", "stream") not in g.columns or ("median", "non-stream") not in g.columns:
        return pd.DataFrame(columns=[*keys, "stream", "non_stream", "ratio", "n_stream", "n_non_stream"])
    out = pd.DataFrame(
        {
            "stream": g[("median", "stream")],
            "non_stream": g[("median", "non-stream")],
            "n_stream": g[("size", "stream")],
            "n_non_stream": g[("size", "non-stream")],
        }
    ).dropna(subset=["stream", "non_stream"])
    out = out[out["stream"] > 0]
    out["ratio"] = out["non_stream"] / out["stream"]
    return out.reset_index()


MIN_PAIRS_FOR_CI = 5


def without_ci(e: Estimate) -> Estimate:
    """The estimate with no interval (NaN bounds): too few units for one."""
    return Estimate(e.value, float("nan"), float("nan"), e.n, e.flagged, e.q, e.confidence)


def paired_compare(pairs: pd.DataFrame, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> PairedComparison | None:
    """Wilcoxon signed-rank on per-prompt (non-stream − stream) waits, and the median per-prompt ratio with CI."""
    if pairs is None or len(pairs) == 0:
        return None
    s = pairs["stream"].to_numpy(float)
    ns = pairs["non_stream"].to_numpy(float)
    diffs = ns - s
    ratio = median_ci(pairs["ratio"].to_numpy(float), resamples=resamples, seed=seed)
    dif = median_ci(diffs, resamples=resamples, seed=seed)
    if len(pairs) < MIN_PAIRS_FOR_CI:  # a bootstrap over 1-4 prompts is not an interval worth showing
        ratio, dif = without_ci(ratio), without_ci(dif)
    if len(pairs) >= 2 and np.any(diffs != 0):
        p = float(sps.wilcoxon(ns, s, alternative="two-sided", zero_method="wilcox").pvalue)
    else:
        p = float("nan")
    return PairedComparison(len(pairs), float(np.median(s)), float(np.median(ns)), ratio, dif, p)
