"""What every chart shares: the request frame prepared once, colours per deployment, sampling, box statistics, the empty figure.

Big runs stay fast and light: box plots are drawn from statistics computed over *all* rows, with at most
``MAX_POINTS`` sampled points per group on top; ECDFs and histograms are pre-binned with numpy.
Hover shows n and the request/response id wherever a point is one request.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from streaming.core.record import counts_for

# Every figure uses plotly_white. Set once as plotly's default: a per-figure ``template=`` deep-copies
# the template each time (about 7 ms a figure, a third of the metrics page's figure time).
pio.templates.default = "plotly_white"


MAX_POINTS = 1500


PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


_SUFFIX = {"simulated": " (simulated)", "local": " (local model)", "replay": " (replay)"}


def _fig(title: str, x: str, y: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title_text=title, xaxis_title_text=x, yaxis_title_text=y, margin=dict(l=60, r=20, t=60, b=50),
                      legend_title_text="", hovermode="closest")  # fmt: skip
    return fig


def _empty(fig: go.Figure, why: str = "No data for this view.") -> go.Figure:
    fig.add_annotation(text=why, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5, font=dict(size=14, color="#666"))
    return fig


def dep_labels(df: pd.DataFrame) -> pd.Series:
    """Deployment names as shown: simulated and local deployments say so."""
    if "provider" not in df.columns:
        return df["deployment"].astype(str)
    return df["deployment"].astype(str) + df["provider"].astype(object).map(_SUFFIX).fillna("").astype(str)


USED_COLUMNS = ("run_id", "tag", "deployment", "provider", "temperature", "mode", "status", "prompt_id", "prompt_size", "seq", "request_key",
                "response_id", "request_id", "started_at", "http_status", "retries", "attempts", "ttft_s", "e2e_s", "tpot_s", "tokens_per_s",
                "perceived_wait_s", "output_tokens", "chunks", "chunk_times_s", "chunk_chars", "itl_s",
                "stream", "pair_id", "schedule_lag_s", "ttft_incl_retries_s", "e2e_incl_retries_s", "ttft_from_schedule_s",
                "e2e_from_schedule_s")  # fmt: skip
USED_COLUMNS += ("api", "reasoning_effort", "reasoning_tokens", "cached_tokens", "t_first_reasoning_s", "thinking_s", "connect_s",
                 "t_last_token_s")  # reasoning models (analysis/reasoning)  # fmt: skip


def prepare(df: pd.DataFrame) -> pd.DataFrame:
    """The columns the statistics and charts use, plus the display label: do it once, then build many figures cheaply."""
    d = df[[c for c in USED_COLUMNS if c in df.columns]].copy()
    for c in ("deployment", "provider", "mode", "status", "prompt_size", "tag"):  # categories: fast comparisons and groupbys
        if c in d.columns:
            d[c] = d[c].astype("category")
    if "deployment" in d.columns:
        d["_label"] = dep_labels(d).astype("category") if len(d) else pd.Series(dtype="category")
    return d


def _colors(labels: Sequence[str]) -> dict[str, str]:
    return {lab: PALETTE[i % len(PALETTE)] for i, lab in enumerate(sorted(set(labels)))}


def _ok(df: pd.DataFrame, metric: str | None = None, mode: str | None = None, cols: Sequence[str] | None = None) -> pd.DataFrame:
    """Successful requests (of ``mode``, with a finite ``metric``), projected to ``cols`` before filtering: cheap on big frames."""
    d = df
    mask = np.array(df["status"] == "ok", dtype=bool) if "status" in df.columns else np.ones(len(df), dtype=bool)
    if metric is not None and metric.startswith("ttft") and "status" in df.columns:  # a TTFT is real for every request that reached one
        mask = counts_for(metric, df["status"].to_numpy(dtype=object))
    if mode is not None and "mode" in df.columns:
        mask &= (df["mode"] == mode).to_numpy(dtype=bool)
    if metric is not None:
        mask &= np.isfinite(df[metric].to_numpy(dtype=float, na_value=np.nan))
    if cols is not None:
        keep = ["deployment", "provider", "_label", *cols, *([metric] if metric else [])]
        d = df[list(dict.fromkeys(c for c in keep if c in df.columns))]
    d = d[mask]
    if "_label" in d.columns:
        return d.assign(_label=d["_label"].cat.remove_unused_categories()) if isinstance(d["_label"].dtype, pd.CategoricalDtype) else d
    return d.assign(_label=dep_labels(d))


def _ids(d: pd.DataFrame) -> np.ndarray:
    resp = d["response_id"].astype(object).where(d["response_id"].notna(), "—") if "response_id" in d.columns else pd.Series("—", index=d.index)
    req = d["request_id"].astype(object).where(d["request_id"].notna(), "—") if "request_id" in d.columns else pd.Series("—", index=d.index)
    return np.column_stack([resp.to_numpy(), req.to_numpy()])


def _sample(d: pd.DataFrame, k: int | None = None, seed: int = 0) -> pd.DataFrame:
    k = MAX_POINTS if k is None else k
    return d if len(d) <= k else d.sample(k, random_state=seed)


def _box_stats(x: np.ndarray) -> dict[str, float]:
    q1, med, q3 = np.quantile(x, [0.25, 0.5, 0.75])
    iqr = q3 - q1
    lo = x[x >= q1 - 1.5 * iqr].min()
    hi = x[x <= q3 + 1.5 * iqr].max()
    return dict(q1=q1, median=med, q3=q3, lowerfence=lo, upperfence=hi, mean=float(x.mean()))
