"""Statistical comparisons: two groups' medians on the unit they were sampled in (prompts, or requests), paired ratios.

Requests on one prompt are not independent: with 5 prompts × 20 repeats a test over requests acts as if
n = 100 and calls noise significant. So ``compare`` takes each value's prompt and tests on prompts:

- *paired prompts* (both sides ran at least two of the same prompts): each prompt's median on each side;
  a paired t-test (k − 1 degrees of freedom) on the common prompts' log ratios log(B's median / A's median),
  and its t interval. Latency effects are multiplicative (a slow prompt is slow on both), so on the log scale
  the per-prompt differences have one spread and the t-test holds its size with 5 prompts;
- *prompts* (unpaired: fewer than two prompts in common): Welch's t-test on the two sides' log prompt
  medians, and its interval;
- *requests*: when no prompt repeats (every request is its own unit) or a side ran one prompt only (the
  result then holds for that prompt): the difference in medians with a bootstrap CI and Mann-Whitney U.

A t interval and not the cluster bootstrap: with 5 prompts a bootstrap over prompts is too narrow (it
misses the (k − 1)/k variance factor and the t quantile). The test and the interval use the same unit,
so the interval excludes 0 exactly when p < 0.05. On prompts, each side's figure is the geometric mean of its
prompt medians, the difference is B's minus A's, and its CI is A's figure × (the ratio's CI − 1).
benchmarks/compare_false_positives.py measures the false-positive rate on a known null.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streaming.analysis.estimators import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Estimate,
    bootstrap_draws,
    clean,
    median_ci,
)
from streaming.analysis.grouping import GROUP_KEYS, group_keys


@dataclass(frozen=True)
class Unit:
    """What the test and the CI count as one observation: ``requests``, ``prompts`` or ``paired prompts``."""

    kind: str = "requests"
    n_a: int = 0  # units on each side (prompts; requests for ``requests``)
    n_b: int = 0
    repeats: tuple[int, int] = (1, 1)  # fewest and most requests per prompt

    @property
    def text(self) -> str:
        """``over 5 prompts (paired), 20 repeats each``, as the sentence and the table show it."""
        lo, hi = self.repeats
        reps = f"{lo} repeat{'s' if lo != 1 else ''} each" if lo == hi else f"{lo}–{hi} repeats per prompt"
        if self.kind == "paired prompts":
            return f"over {self.n_a} prompt{'s' if self.n_a != 1 else ''} (paired), {reps}"
        if self.kind == "prompts":
            return f"over {self.n_a} and {self.n_b} prompts (unpaired), {reps}"
        if lo > 1:  # one prompt: its repeats are the sample, and the answer is about that prompt
            return f"over requests on one prompt, {reps}: true of that prompt only"
        return "over requests (no prompt repeats)"


@dataclass(frozen=True)
class Comparison:
    """Two groups compared on ``unit``: B − A with a 95 % CI and a two-sided test, plus Cliff's delta over requests.

    With prompts as the unit, ``median_a``/``median_b`` are the geometric mean of each side's prompt medians."""

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
    unit: Unit = Unit()

    @property
    def ratio(self) -> tuple[float, float, float]:
        """B / A with its CI (from the difference: exact for prompts, where the CI is built as a ratio)."""
        m = self.median_a
        return tuple(float("nan") if not m else 1.0 + x / m for x in (self.diff, self.diff_lo, self.diff_hi))  # type: ignore[return-value]

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
    from scipy import stats as sps  # on first use: importing scipy.stats costs a CLI start about a second
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
    *,
    prompts_a: Sequence[object] | np.ndarray | None = None,
    prompts_b: Sequence[object] | np.ndarray | None = None,
) -> Comparison:
    """Compare two groups (b − a) on the unit they were sampled in: paired prompts, prompts, or requests (module doc).

    ``prompts_a``/``prompts_b``: each value's prompt (aligned with ``a``/``b``); without them, requests are the unit."""
    from scipy import stats as sps
    xa, ca = _aligned(a, prompts_a)
    xb, cb = _aligned(b, prompts_b)
    delta = cliffs_delta(xa, xb)
    if xa.size and xb.size and ca is not None and cb is not None:
        ga, gb = _prompt_medians(xa, ca), _prompt_medians(xb, cb)
        counts = [int(v) for v in (*ga["size"], *gb["size"])]
        repeats = (min(counts), max(counts))
        common = ga.index.intersection(gb.index)
        positive = bool((ga["median"] > 0).all() and (gb["median"] > 0).all())  # a log needs positive medians
        if positive and len(common) >= 2:
            la, lb = np.log(ga.loc[common, "median"].to_numpy(float)), np.log(gb.loc[common, "median"].to_numpy(float))
            lo, hi, p = _t_interval(lb - la)
            unit = Unit("paired prompts", len(common), len(common), repeats)
            return _on_prompts(label_a, label_b, xa.size, xb.size, la, lb, lo, hi, p, delta, "paired t-test over prompts", unit)
        if positive and len(ga) >= 2 and len(gb) >= 2 and repeats[1] > 1:
            la, lb = np.log(ga["median"].to_numpy(float)), np.log(gb["median"].to_numpy(float))
            lo, hi, p = _welch_interval(la, lb)
            unit = Unit("prompts", len(ga), len(gb), repeats)
            return _on_prompts(label_a, label_b, xa.size, xb.size, la, lb, lo, hi, p, delta, "Welch t-test over prompts", unit)
        unit = Unit("requests", int(xa.size), int(xb.size), repeats)
    else:
        unit = Unit("requests", int(xa.size), int(xb.size), (1, 1))
    d = diff_in_medians(xa, xb, resamples=resamples, seed=seed)
    if xa.size and xb.size:
        res = sps.mannwhitneyu(xb, xa, alternative="two-sided", method="auto" if xa.size * xb.size < 250_000 else "asymptotic")
        p = float(res.pvalue)
        ma, mb = float(np.median(xa)), float(np.median(xb))
    else:
        p = ma = mb = float("nan")
    return Comparison(label_a, label_b, int(xa.size), int(xb.size), ma, mb, d.value, d.lo, d.hi, p, delta, unit=unit)


def _on_prompts(label_a: str, label_b: str, n_a: int, n_b: int, la: np.ndarray, lb: np.ndarray, lo: float, hi: float, p: float,
                delta: float, test: str, unit: Unit) -> Comparison:  # fmt: skip
    """A Comparison from log prompt medians and the log-ratio interval: medians are geometric means over prompts."""
    ma, mb = math.exp(float(la.mean())), math.exp(float(lb.mean()))
    return Comparison(label_a, label_b, int(n_a), int(n_b), ma, mb, mb - ma, ma * math.expm1(lo), ma * math.expm1(hi), p, delta, test, unit)


def _aligned(x: Sequence[float] | np.ndarray, prompts: Sequence[object] | np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The finite values and their prompts (None without prompts)."""
    v = pd.to_numeric(pd.Series(x, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan) if not (
        isinstance(x, np.ndarray) and x.dtype.kind in "fiu") else np.asarray(x, dtype=float)  # fmt: skip
    keep = np.isfinite(v)
    if prompts is None:
        return v[keep], None
    c = np.asarray(prompts, dtype=object)
    if c.shape != v.shape:
        raise ValueError(f"prompts: {c.size} labels for {v.size} values; give one prompt per value")
    return v[keep], c[keep]


def _prompt_medians(x: np.ndarray, prompts: np.ndarray) -> pd.DataFrame:
    """Per prompt: the median and the number of requests."""
    return pd.DataFrame({"p": prompts, "x": x}).groupby("p", sort=True)["x"].agg(["median", "size"])


def _t_interval(d: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(lo, hi, p) of the mean of ``d`` (one-sample t: ``k − 1`` degrees of freedom)."""
    from scipy import stats as sps
    k, m = d.size, float(d.mean())
    se = float(d.std(ddof=1)) / math.sqrt(k)
    if se == 0:  # every prompt moved by exactly the same amount
        return m, m, (1.0 if m == 0 else 0.0)
    t = float(sps.t.ppf(0.5 + confidence / 2, k - 1))
    return m - t * se, m + t * se, float(2 * sps.t.sf(abs(m) / se, k - 1))


def _welch_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """(lo, hi, p) of mean(b) − mean(a), Welch's unequal-variance t with Welch–Satterthwaite degrees of freedom."""
    from scipy import stats as sps
    va, vb = float(a.var(ddof=1)) / a.size, float(b.var(ddof=1)) / b.size
    m, se = float(b.mean() - a.mean()), math.sqrt(va + vb)
    if se == 0:
        return m, m, (1.0 if m == 0 else 0.0)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    t = float(sps.t.ppf(0.5 + confidence / 2, df))
    return m - t * se, m + t * se, float(2 * sps.t.sf(abs(m) / se, df))


def paired_frame(df: pd.DataFrame, value: str = "perceived_wait_s", keys: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per prompt (within ``keys``) with the median stream and non-stream wait: columns stream, non_stream, ratio.

    ``keys`` default: the grouping keys but mode (``grouping.group_keys``), then ``prompt_id``: a prompt pairs with its twin
    of the same deployment, temperature, api and effort."""
    if keys is None:
        keys = [*group_keys(df, tuple(k for k in GROUP_KEYS if k != "mode")), "prompt_id"]
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
    from scipy import stats as sps
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
