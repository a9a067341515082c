"""Failures over a run: errors by type against time since the run started."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from streaming.analysis.charts.common import _empty, _fig
from streaming.core.record import STOPPED_STATUSES


def errors_over_time(df: pd.DataFrame, bins: int = 40) -> go.Figure:
    """Failed requests (and those stopped by the user, apart), retries and HTTP 429s per time bin (by the request's start time)."""
    fig = _fig("Errors, retries and 429s over time", "time (UTC)", "count per bin")
    if df.empty or "started_at" not in df.columns:
        return _empty(fig)
    t = pd.to_datetime(df["started_at"], errors="coerce", utc=True, format="ISO8601")
    d = df.assign(_t=t).dropna(subset=["_t"])
    if d.empty:
        return _empty(fig)
    status = d["status"].astype(object).where(d["status"].notna(), "error").to_numpy() if "status" in d.columns else np.full(len(d), "ok", object)
    stopped = np.isin(status, STOPPED_STATUSES)  # stopped by the user: not a failure, its own bar when there are any
    err = (status != "ok") & ~stopped
    retries = pd.to_numeric(d["retries"], errors="coerce").fillna(0).to_numpy(float) if "retries" in d.columns else np.zeros(len(d))
    # a connection error has no HTTP status (NA): it is not a 429
    r429 = (d["http_status"] == 429).fillna(False).to_numpy(dtype=bool) if "http_status" in d.columns else np.zeros(len(d), bool)
    if "attempts" in d.columns:  # 429s that were retried live in the attempts, not in the final status
        r429 = r429.astype(float) + np.array([sum(1 for a in (v if isinstance(v, list) else []) if isinstance(a, dict) and a.get("http_status") == 429)
                                              for v in d["attempts"]], dtype=float)  # fmt: skip
    ns = d["_t"].dt.as_unit("ns").astype("int64").to_numpy()
    lo, hi = ns.min(), ns.max()
    edges = np.linspace(lo, hi + 1, min(bins, max(1, len(d))) + 1)
    which = np.clip(np.searchsorted(edges, ns, side="right") - 1, 0, len(edges) - 2)
    total = np.bincount(which, minlength=len(edges) - 1)
    mids = pd.to_datetime(((edges[:-1] + edges[1:]) / 2).astype("int64"), utc=True).floor("ms")
    series = [("failed requests", err.astype(float), "#d62728"), ("retries", retries, "#ff7f0e"), ("HTTP 429", np.asarray(r429, float), "#9467bd")]
    if stopped.any():
        series.insert(1, ("stopped by the user", stopped.astype(float), "#7f7f7f"))
    for name, w, color in series:
        fig.add_trace(go.Bar(x=mids, y=np.bincount(which, weights=w, minlength=len(edges) - 1), name=name, marker_color=color, customdata=total,
                             hovertemplate=f"%{{x}}<br>{name}: %{{y:.0f}}<br>n=%{{customdata}} requests in bin<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="group")
    peak = max(float(err.sum()), float(retries.sum()), float(np.asarray(r429, float).sum()))
    top = max(peak, float(stopped.sum()))
    fig.update_yaxes(rangemode="nonnegative", range=[0, 1] if top == 0 else None, dtick=1 if top <= 5 else None)
    if peak == 0:
        fig.add_annotation(text=f"No failed requests, retries or 429s in these {len(d)} requests.", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=13, color="#666"))  # fmt: skip
    return fig
