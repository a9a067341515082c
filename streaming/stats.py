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

METRICS: dict[str, str] = {
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


# --------------------------------------------------------------------------------------------- percentiles


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


# --------------------------------------------------------------------------------------------- bootstrap


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
    draws = _boot_direct(a, qarr, resamples, rng) if resamples * n <= _DIRECT_BUDGET else _boot_order_stat(a, qarr, resamples, rng)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(draws, [alpha, 1.0 - alpha], axis=1)
    return [
        Estimate(float(p), float(l_), float(h_), n, not is_supported(n, q), float(q), confidence)
        for p, l_, h_, q in zip(points, lo, hi, qarr)
    ]


def median_ci(x: Sequence[float] | np.ndarray, confidence: float = 0.95, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> Estimate:
    """Median with a percentile-bootstrap confidence interval."""
    return bootstrap_quantiles(x, [0.5], confidence, resamples, seed)[0]


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
        f = _boot_direct if resamples * s.size <= _DIRECT_BUDGET else _boot_order_stat
        return f(s, q, resamples, rng)[0]

    d = draws(xb) - draws(xa)
    alpha = (1.0 - confidence) / 2.0
    lo, hi = np.quantile(d, [alpha, 1.0 - alpha])
    value = float(np.median(xb) - np.median(xa))
    return Estimate(value, float(lo), float(hi), min(xa.size, xb.size), False, 0.5, confidence)


# --------------------------------------------------------------------------------------------- tests


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


def paired_compare(pairs: pd.DataFrame, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> PairedComparison | None:
    """Wilcoxon signed-rank on per-prompt (non-stream − stream) waits, and the median per-prompt ratio with CI."""
    if pairs is None or len(pairs) == 0:
        return None
    s = pairs["stream"].to_numpy(float)
    ns = pairs["non_stream"].to_numpy(float)
    diffs = ns - s
    ratio = median_ci(pairs["ratio"].to_numpy(float), resamples=resamples, seed=seed)
    dif = median_ci(diffs, resamples=resamples, seed=seed)
    if len(pairs) >= 2 and np.any(diffs != 0):
        p = float(sps.wilcoxon(ns, s, alternative="two-sided", zero_method="wilcox").pvalue)
    else:
        p = float("nan")
    return PairedComparison(len(pairs), float(np.median(s)), float(np.median(ns)), ratio, dif, p)


# --------------------------------------------------------------------------------------------- wording


def _fmt_s(v: float) -> str:
    """Seconds as ms below 1 s, else s."""
    if math.isnan(v):
        return "n/a"
    return f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.2f} s"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _effect_word(delta: float) -> str:
    a = abs(delta)  # Romano et al. (2006) thresholds for Cliff's delta
    return "negligible" if a < 0.147 else "small" if a < 0.33 else "medium" if a < 0.474 else "large"


def summarize(c: Comparison, metric: str = "median TTFT", seconds: bool = True) -> str:
    """One sentence a stakeholder can read."""
    if c.n_a == 0 or c.n_b == 0:
        return f"Cannot compare {c.label_a} and {c.label_b}: one of them has no successful requests."
    fmt = _fmt_s if seconds else (lambda v: f"{v:.3g}")
    if c.diff == 0:
        direction = "the same as"
    else:
        direction = "higher than" if c.diff > 0 else "lower than"
    size = fmt(abs(c.diff)) + " " if c.diff != 0 else ""
    verdict = (
        f"the difference is statistically significant and its effect is {_effect_word(c.effect)}"
        if c.significant
        else "the difference is not statistically significant: it could be noise"
    )
    return (
        f"{metric[:1].upper() + metric[1:]} of {c.label_b} ({fmt(c.median_b)}, n={c.n_b}) is {size}{direction} {c.label_a} "
        f"({fmt(c.median_a)}, n={c.n_a}); 95 % CI of the difference {fmt(c.diff_lo)} to {fmt(c.diff_hi)}, "
        f"Mann-Whitney {_fmt_p(c.p_value)}, Cliff's δ = {c.effect:+.2f}: {verdict}."
    )


def summarize_paired(p: PairedComparison | None) -> str:
    """One sentence on how much longer a non-streaming user waits for the same prompt."""
    if p is None:
        return "No prompt was run both streaming and non-streaming, so the perceived waits cannot be paired."
    r = p.ratio
    sig = "significant" if (not math.isnan(p.p_value) and p.p_value < 0.05) else "not significant"
    return (
        f"On the same {p.n_pairs} prompt{'s' if p.n_pairs != 1 else ''}, a non-streaming user waits {r.value:.1f}× as long "
        f"(95 % CI {r.lo:.1f}–{r.hi:.1f}×) as a streaming user waits for the first token: median {_fmt_s(p.median_nonstream)} "
        f"vs {_fmt_s(p.median_stream)}; Wilcoxon signed-rank {_fmt_p(p.p_value)} ({sig})."
    )


# --------------------------------------------------------------------------------------------- tables


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Successful requests only: the latency statistics are over these; failures are counted separately."""
    return df[df["status"] == "ok"] if "status" in df.columns else df


def percentile_table(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("ttft_s", "e2e_s", "tpot_s", "tokens_per_s"),
    by: Sequence[str] = ("deployment", "temperature", "mode"),
    qs: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> pd.DataFrame:
    """Long table: one row per (group, metric, percentile) with value, CI, n and flag; successful requests only."""
    cols = [*by, "metric", "q", "value", "lo", "hi", "n", "flagged"]
    by = [b for b in by if b in df.columns]
    data = ok_rows(df[[*by, *(m for m in metrics if m in df.columns), *(["status"] if "status" in df.columns else [])]])
    rows: list[tuple] = []
    if data.empty:
        return pd.DataFrame(columns=cols)
    for key, g in data.groupby(list(by), dropna=False, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        for m in metrics:
            if m not in g.columns:
                continue
            x = g[m].to_numpy(dtype=float, na_value=np.nan)
            x = x[np.isfinite(x)]
            if x.size == 0:
                continue
            for e in bootstrap_quantiles(x, qs, resamples=resamples, seed=seed):
                rows.append((*key, m, e.q, e.value, e.lo, e.hi, e.n, e.flagged))
    return pd.DataFrame(rows, columns=[*by, "metric", "q", "value", "lo", "hi", "n", "flagged"])


def format_percentile_table(long: pd.DataFrame) -> pd.DataFrame:
    """Wide, readable table: one row per (group, metric), a column per percentile as ``value [lo–hi]`` (⚑ = unsupported)."""
    if long.empty:
        return pd.DataFrame()
    group = [c for c in long.columns if c not in ("metric", "q", "value", "lo", "hi", "n", "flagged")]

    def cell(r: pd.Series) -> str:
        return Estimate(r.value, r.lo, r.hi, int(r.n), bool(r.flagged), r.q).fmt().rsplit(" n=", 1)[0] + (" ⚑ ≈max" if r.flagged else "")

    t = long.assign(label=[f"p{round(q * 100):d}" for q in long["q"]], cell=long.apply(cell, axis=1))
    wide = t.pivot_table(index=[*group, "metric"], columns="label", values="cell", aggfunc="first", observed=True, dropna=False)
    n = t.groupby([*group, "metric"], dropna=False, observed=True)["n"].first()
    wide = wide.join(n).reset_index()
    wide["n"] = wide["n"].astype("Int64")
    rank = {m: i for i, m in enumerate(METRICS)}
    wide = wide.sort_values([*group, "metric"], key=lambda c: c.map(rank).fillna(99) if c.name == "metric" else c, kind="stable")
    wide["metric"] = wide["metric"].map(lambda m: METRICS.get(m, m))
    order = sorted([c for c in wide.columns if isinstance(c, str) and c.startswith("p") and c[1:].isdigit()], key=lambda c: int(c[1:]))
    return wide[[*group, "metric", *order, "n"]].dropna(subset=order, how="all")


@dataclass(frozen=True)
class Headline:
    """Per-deployment headline: median TTFT, median tokens/s and the stream vs non-stream perceived-wait ratio."""

    deployment: str
    ttft: Estimate
    tokens_per_s: Estimate
    wait_ratio: Estimate | None
    n_requests: int
    n_failed: int


def headlines(df: pd.DataFrame, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> list[Headline]:
    """One Headline per deployment, over the rows given (failures counted, not measured)."""
    out: list[Headline] = []
    if df.empty:
        return out
    df = df[[c for c in ("deployment", "status", "mode", "ttft_s", "tokens_per_s", "perceived_wait_s", "temperature", "prompt_id") if c in df.columns]]
    pairs_all = paired_frame(df)
    for dep, g in df.groupby("deployment", sort=True, observed=True):
        ok = ok_rows(g)
        stream = ok[ok["mode"] == "stream"] if "mode" in ok.columns else ok
        ttft = median_ci(stream["ttft_s"].to_numpy(float, na_value=np.nan), resamples=resamples, seed=seed)
        tps = median_ci(stream["tokens_per_s"].to_numpy(float, na_value=np.nan), resamples=resamples, seed=seed)
        pairs = pairs_all[pairs_all["deployment"] == dep] if len(pairs_all) else pairs_all
        ratio = median_ci(pairs["ratio"].to_numpy(float), resamples=resamples, seed=seed) if len(pairs) else None
        out.append(Headline(str(dep), ttft, tps, ratio, int(len(g)), int(len(g) - len(ok))))
    return out
