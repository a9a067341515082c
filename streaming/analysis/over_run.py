"""Over the run: latency against time since the run started (drift, warm-up), and aggregate throughput.

- time since start: a request's ``started_at`` minus the earliest ``started_at`` in the selection;
- aggregate throughput over the selection's span (``analysis.spans``: per run, from the first send to the
  last end over all its workers on the shared wall clock; the gaps between runs left out):
  requests/s = finished requests / span, output tokens/s = the sum of successful requests'
  ``output_tokens`` / span. Failed requests count in requests/s, not in tokens.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import plotly.graph_objects as go

from streaming.analysis.charts import _colors, _empty, _fig, dep_labels
from streaming.analysis.spans import span_of


def _starts(df: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(df["started_at"], errors="coerce", utc=True, format="ISO8601")


@dataclass(frozen=True)
class Throughput:
    """Aggregate throughput of a selection: what the deployment(s) delivered over the wall-clock span of the run."""

    deployment: str
    n: int
    span_s: float
    requests_per_s: float | None
    output_tokens_per_s: float | None
    span: str = ""  # which span: "over 2 workers, 1 run, 12.3 s"


def aggregate_throughput(df: pd.DataFrame, by: str | None = "deployment") -> list[Throughput]:
    """One ``Throughput`` per deployment (or one for everything with ``by=None``); see the module doc for the definitions."""
    if df.empty:
        return []
    groups = [("all", df)] if by is None else [(str(k), g) for k, g in df.groupby(by, observed=True, sort=True)]
    out = []
    for name, g in groups:
        sp = span_of(g)
        if math.isnan(sp.seconds):
            continue
        ok = g["status"] == "ok"
        tokens = float(pd.to_numeric(g.loc[ok, "output_tokens"], errors="coerce").fillna(0).sum())
        out.append(Throughput(name, len(g), sp.seconds, len(g) / sp.seconds, tokens / sp.seconds, sp.text))
    return out


def latency_over_run(df: pd.DataFrame) -> go.Figure:
    """TTFT (streamed) and e2e (every mode) of each successful request against seconds since the selection's first request."""
    fig = _fig("Latency over the run: TTFT and e2e against time since start", "time since the first request (s)", "seconds")
    if df.empty or "started_at" not in df.columns:
        return _empty(fig)
    d = df.assign(_t=_starts(df)).dropna(subset=["_t"])
    d = d[d["status"] == "ok"] if "status" in d.columns else d
    if d.empty:
        return _empty(fig, "No successful request in this view.")
    x0 = d["_t"].min()
    d = d.assign(_x=(d["_t"] - x0).dt.total_seconds(), _label=dep_labels(d)).sort_values("_x")
    colors = _colors(d["_label"])
    for lab, g in d.groupby("_label", sort=True, observed=True):
        stream = g[(g["mode"] == "stream") & g["ttft_s"].notna()] if "mode" in g.columns else g[g["ttft_s"].notna()]
        if len(stream):
            fig.add_trace(go.Scatter(x=stream["_x"], y=stream["ttft_s"], mode="markers+lines", name=f"{lab} TTFT", line=dict(width=1, color=colors[lab]),
                                     marker=dict(size=5, color=colors[lab]), hovertemplate=f"{lab}<br>t=%{{x:.1f}} s<br>TTFT %{{y:.3f}} s<extra></extra>"))  # fmt: skip
        e2e = g[g["e2e_s"].notna()]
        fig.add_trace(go.Scatter(x=e2e["_x"], y=e2e["e2e_s"], mode="markers+lines", name=f"{lab} e2e", line=dict(width=1, dash="dot", color=colors[lab]),
                                 marker=dict(size=5, symbol="square", color=colors[lab]), opacity=0.6,
                                 hovertemplate=f"{lab}<br>t=%{{x:.1f}} s<br>e2e %{{y:.3f}} s<extra></extra>"))  # fmt: skip
    fig.update_yaxes(rangemode="tozero")
    return fig


def throughput_frame(items: list[Throughput]) -> pd.DataFrame:
    """For display: deployment, requests, span (s), requests/s, output tokens/s, and which span."""
    return pd.DataFrame([{"deployment": t.deployment, "requests": t.n, "span (s)": round(t.span_s, 2),
                          "requests/s": None if t.requests_per_s is None else round(t.requests_per_s, 2),
                          "output tokens/s": None if t.output_tokens_per_s is None else round(t.output_tokens_per_s, 1),
                          "span": t.span} for t in items])  # fmt: skip


