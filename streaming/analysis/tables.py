"""Tables of a run: the per-cell summary (percentiles, errors, retries), the percentile table with CIs, headline cards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from streaming.analysis.compare import paired_frame
from streaming.analysis.estimators import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    METRIC_LABELS,
    Estimate,
    bootstrap_quantiles,
    median_ci,
)


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table, times in milliseconds."""
    if summary.empty:
        return "(no requests)"
    t = pd.DataFrame({
        "deployment": summary["deployment"],
        "T": [("default" if pd.isna(v) else f"{v:g}") for v in summary["temperature"]],
        "mode": summary["mode"], "n": summary["n"], "errors": summary["errors"], "retries": summary["retries"],
    })  # fmt: skip
    for c, label in (("reasoning_effort", "effort"), ("api", "api")):  # each inserted after mode: api, then effort
        if c in summary.columns:
            t.insert(3, label, [("default" if v is None or pd.isna(v) else str(v)) for v in summary[c]])
    from streaming.analysis.estimators import is_supported

    ok_n = [int(v) for v in summary["ok"]]
    flagged = False

    def cells(values: pd.Series, p: int, fmt: Callable[[float], str]) -> list[str]:
        nonlocal flagged
        out = []
        for v, n in zip(values, ok_n):
            if pd.isna(v):
                out.append("-")
            elif is_supported(n, p / 100):
                out.append(fmt(v))
            else:  # too few requests: this "percentile" is the sample's extreme, not an estimate
                flagged = True
                out.append(fmt(v) + "*")
        return out

    for m, label in (("ttft", "TTFT"), ("e2e", "e2e"), ("tpot", "TPOT")):
        for p in (50, 90, 95, 99):
            t[f"{label} p{p} ms"] = cells(summary[f"{m}_p{p}"], p, lambda v: f"{v * 1000:.0f}")
    for p in (50, 90, 95, 99):
        t[f"tok/s p{p}"] = cells(summary[f"tokens_per_s_p{p}"], p, lambda v: f"{v:.1f}")
    t["retry wait s"] = [f"{v:.2f}" for v in summary["retry_wait_s"]]
    if summary["schedule_lag_p99"].notna().any():  # rate mode: how late the sends were (coordinated omission)
        t["send lag p99 ms"] = [("-" if pd.isna(v) else f"{v * 1000:.1f}") for v in summary["schedule_lag_p99"]]
    table = t.to_string(index=False)
    if flagged:
        table += "\n* too few successful requests for this percentile (p90 needs 10, p95 20, p99 100): it is the sample's extreme, not an estimate"
    return table


PERCENTILE_METRICS = {"ttft": "ttft_s", "e2e": "e2e_s", "tpot": "tpot_s", "tokens_per_s": "tokens_per_s", "wait": "perceived_wait_s"}


PCTS = (50, 90, 95, 99)


KEYS = ["deployment", "temperature", "mode"]
MATRIX_KEYS = ("api", "reasoning_effort")  # bench --api / --reasoning-effort dimensions: rows split by them when the run varies them


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (deployment, temperature, mode): n, ok, errors, error_rate, retries, retry_wait_s,
    and {ttft,e2e,tpot,tokens_per_s,wait}_p{50,90,95,99} over successful requests (seconds; tokens/s)."""
    rows = []
    if not len(df):
        return pd.DataFrame(columns=[*KEYS, "n", "ok", "errors", "error_rate", "retries", "retry_wait_s"])
    keys = KEYS + [c for c in MATRIX_KEYS if c in df.columns and df[c].nunique(dropna=False) > 1]  # api, effort: when they vary
    for key, g in df.groupby(keys, dropna=False, sort=True):
        ok = g[g["status"] == "ok"]
        row: dict[str, Any] = dict(zip(keys, key))
        row.update(n=len(g), ok=len(ok), errors=len(g) - len(ok), error_rate=(len(g) - len(ok)) / len(g),
                   retries=int(g["retries"].fillna(0).sum()), retry_wait_s=float(g["retry_wait_s"].fillna(0).sum()))  # fmt: skip
        for name, col in PERCENTILE_METRICS.items():
            values = ok[col].to_numpy(dtype=float)
            values = values[~np.isnan(values)]
            for p in PCTS:
                row[f"{name}_p{p}"] = float(np.percentile(values, p)) if len(values) else float("nan")
        lag = g["schedule_lag_s"].to_numpy(dtype=float)
        lag = lag[~np.isnan(lag)]
        row["schedule_lag_p99"] = float(np.percentile(lag, 99)) if len(lag) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


SUMMARY_METRICS = ("n", "ok", "errors", "error_rate", "retries", "retry_wait_s",
                   *(f"{m}_p{p}" for m in PERCENTILE_METRICS for p in PCTS), "schedule_lag_p99")  # fmt: skip


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
    rank = {m: i for i, m in enumerate(METRIC_LABELS)}
    wide = wide.sort_values([*group, "metric"], key=lambda c: c.map(rank).fillna(99) if c.name == "metric" else c, kind="stable")
    wide["metric"] = wide["metric"].map(lambda m: METRIC_LABELS.get(m, m))
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
