"""Deployments compared on the same prompts: the arena's linked groups (one ``pair_id`` per prompt, one record per deployment).

For deployments A and B: every group where both succeeded gives one pair (A's value, B's value).
The median of the per-prompt differences (B − A) has a percentile-bootstrap CI, and the test is
Wilcoxon signed-rank (two-sided), as for stream vs non-stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streaming.analysis.estimators import Estimate, median_ci


@dataclass(frozen=True)
class DeploymentPairs:
    """A vs B on the same prompts."""

    a: str
    b: str
    n_pairs: int
    median_a: float
    median_b: float
    diff: Estimate  # median over prompts of B − A
    p_value: float


def deployment_pairs(df: pd.DataFrame, a: str, b: str, metric: str = "ttft_s") -> pd.DataFrame:
    """One row per group (``pair_id``) where both ``a`` and ``b`` succeeded: columns pair_id, a, b."""
    if df.empty or not {"pair_id", "deployment", metric}.issubset(df.columns):
        return pd.DataFrame(columns=["pair_id", "a", "b"])
    d = df[(df["status"] == "ok") & df["pair_id"].notna() & df["deployment"].astype(str).isin([a, b]) & df[metric].notna()]
    wide = d.assign(deployment=d["deployment"].astype(str)).pivot_table(index="pair_id", columns="deployment", values=metric, aggfunc="median", observed=True)
    if a not in wide.columns or b not in wide.columns:
        return pd.DataFrame(columns=["pair_id", "a", "b"])
    out = wide[[a, b]].dropna().reset_index()
    out.columns = ["pair_id", "a", "b"]
    return out


def compare_deployments(df: pd.DataFrame, a: str, b: str, metric: str = "ttft_s", resamples: int = 1000, seed: int = 0) -> DeploymentPairs | None:
    from scipy import stats as sps  # on first use: importing scipy.stats costs a CLI start about a second
    pairs = deployment_pairs(df, a, b, metric)
    if len(pairs) == 0:
        return None
    x, y = pairs["a"].to_numpy(float), pairs["b"].to_numpy(float)
    d = y - x
    p = float(sps.wilcoxon(y, x, alternative="two-sided", zero_method="wilcox").pvalue) if len(d) >= 2 and np.any(d != 0) else float("nan")
    return DeploymentPairs(a, b, len(pairs), float(np.median(x)), float(np.median(y)), median_ci(d, resamples=resamples, seed=seed), p)


def pairs_sentence(c: DeploymentPairs | None, what: str = "TTFT") -> str | None:
    """One sentence, or None when the two were never asked the same prompt together."""
    if c is None:
        return None
    sig = "significant" if not math.isnan(c.p_value) and c.p_value < 0.05 else "not significant"
    p = "n/a (too few pairs)" if math.isnan(c.p_value) else f"p = {c.p_value:.3g}"
    return (f"On the same {c.n_pairs} arena prompt{'s' if c.n_pairs != 1 else ''}, median {what} {c.a} {c.median_a * 1000:.0f} ms vs "
            f"{c.b} {c.median_b * 1000:.0f} ms; per-prompt difference {c.diff.value * 1000:+.0f} ms "
            f"(95 % CI {c.diff.lo * 1000:+.0f} to {c.diff.hi * 1000:+.0f} ms); Wilcoxon signed-rank {p} ({sig}).")  # fmt: skip
