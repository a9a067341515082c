"""Latency charts: box plots and ECDFs of a metric per deployment, latency against temperature, streaming against not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from streaming.analysis.charts.common import _box_stats, _colors, _empty, _fig, _ids, _ok, _sample
from streaming.analysis.compare import paired_frame
from streaming.analysis.estimators import METRIC_LABELS, median_ci


def metric_box(df: pd.DataFrame, metric: str = "ttft_s", mode: str | None = "stream", title: str | None = None, scale: float = 1.0,
               unit: str = "") -> go.Figure:  # fmt: skip
    """Box per deployment (statistics over every successful request) with the points (sampled above MAX_POINTS)."""
    name = METRIC_LABELS.get(metric, metric)
    ytitle = name.replace("(s)", f"({unit})") if unit else name
    fig = _fig(title or f"{name} by deployment", "deployment", ytitle)
    d = _ok(df, metric, mode, cols=("response_id", "request_id"))
    if d.empty:
        return _empty(fig)
    colors = _colors(d["_label"])
    for lab, g in d.groupby("_label", sort=True, observed=True):
        x = g[metric].to_numpy(dtype=float) * scale
        st = _box_stats(x)
        fig.add_trace(go.Box(x=[lab], name=lab, legendgroup=lab, marker_color=colors[lab], boxpoints=False,
                             **{k: [v] for k, v in st.items()}, hoverinfo="y"))  # fmt: skip
        pts = _sample(g)
        fig.add_trace(go.Box(
            x=[lab] * len(pts), y=pts[metric].to_numpy(dtype=float) * scale, name=f"{lab} points", legendgroup=lab, showlegend=False,
            boxpoints="all", jitter=0.5, pointpos=0, fillcolor="rgba(0,0,0,0)", line=dict(width=0), hoveron="points",
            marker=dict(color=colors[lab], size=4, opacity=0.5), customdata=_ids(pts),
            hovertemplate=f"{lab}<br>{ytitle}: %{{y:.4g}}<br>response %{{customdata[0]}}<br>request %{{customdata[1]}}"
                          f"<br>n={len(g)}{' (sample shown)' if len(pts) < len(g) else ''}<extra></extra>",
        ))  # fmt: skip
    fig.update_layout(boxmode="overlay", showlegend=False)
    return fig


def ecdf(df: pd.DataFrame, metric: str = "ttft_s", mode: str | None = "stream", points: int = 400) -> go.Figure:
    """Empirical CDF per deployment (at most ``points`` steps drawn per line)."""
    name = METRIC_LABELS.get(metric, metric)
    fig = _fig(f"{name}: ECDF by deployment", name, "fraction of requests ≤ x")
    d = _ok(df, metric, mode, cols=())
    if d.empty:
        return _empty(fig)
    colors = _colors(d["_label"])
    for lab, g in d.groupby("_label", sort=True, observed=True):
        x = np.sort(g[metric].to_numpy(dtype=float))
        n = x.size
        idx = np.unique(np.linspace(0, n - 1, min(n, points)).round().astype(int))
        fig.add_trace(go.Scatter(x=x[idx], y=(idx + 1) / n, mode="lines", line_shape="hv", name=f"{lab} (n={n})", marker_color=colors[lab],
                                 hovertemplate=f"{lab}<br>{name} ≤ %{{x:.4g}}: %{{y:.1%}}<br>n={n}<extra></extra>"))  # fmt: skip
    fig.update_yaxes(range=[0, 1.02])
    return fig


def latency_vs_temperature(df: pd.DataFrame, metric: str = "ttft_s", mode: str | None = "stream", resamples: int = 500) -> go.Figure:
    """Median per temperature with a 95 % bootstrap CI band, one line per deployment."""
    name = METRIC_LABELS.get(metric, metric)
    fig = _fig(f"Median {name} vs temperature (95 % CI band)", "temperature", f"median {name}")
    d = _ok(df, metric, mode, cols=("temperature",))
    if d.empty or "temperature" not in d.columns:
        return _empty(fig)
    d = d.assign(_temp=d["temperature"].fillna(-1.0))
    colors = _colors(d["_label"])
    for lab, g in d.groupby("_label", sort=True, observed=True):
        rows = []
        for t, gt in g.groupby("_temp", sort=True):
            e = median_ci(gt[metric].to_numpy(dtype=float), resamples=resamples)
            rows.append((t, e.value, e.lo, e.hi, e.n))
        t, med, lo, hi, n = map(np.array, zip(*rows))
        c = colors[lab]
        fig.add_trace(go.Scatter(x=np.concatenate([t, t[::-1]]), y=np.concatenate([hi, lo[::-1]]), fill="toself", fillcolor=c, opacity=0.2,
                                 mode="lines", line=dict(width=0), hoverinfo="skip", showlegend=False, legendgroup=lab, name=f"{lab} 95% CI"))  # fmt: skip
        fig.add_trace(go.Scatter(x=t, y=med, mode="lines+markers", name=lab, legendgroup=lab, marker_color=c, customdata=np.column_stack([lo, hi, n]),
                                 hovertemplate=f"{lab}<br>temperature %{{x}}<br>median %{{y:.4g}} [%{{customdata[0]:.4g}}–%{{customdata[1]:.4g}}]"
                                               "<br>n=%{customdata[2]}<extra></extra>"))  # fmt: skip
    if (d["_temp"] < 0).any():
        fig.add_annotation(text="temperature −1 = not set (provider default)", showarrow=False, xref="paper", yref="paper", x=1, y=-0.18,
                           xanchor="right", font=dict(size=10))  # fmt: skip
    return fig


def stream_vs_nonstream(df: pd.DataFrame) -> go.Figure:
    """Perceived wait (TTFT streaming, e2e non-streaming) per deployment and mode, and the per-prompt ratio."""
    fig = make_subplots(rows=1, cols=2, column_widths=[0.6, 0.4], subplot_titles=("Perceived wait by mode", "Per-prompt ratio non-stream / stream"))
    fig.update_layout(title_text="Streaming vs non-streaming: how long until the user sees something",
                      boxmode="group", margin=dict(l=60, r=20, t=80, b=50))  # fmt: skip
    fig.update_xaxes(title_text="deployment", row=1, col=1)
    fig.update_yaxes(title_text="perceived wait (s)", row=1, col=1)
    fig.update_xaxes(title_text="deployment", row=1, col=2)
    fig.update_yaxes(title_text="non-stream wait / stream wait (×)", row=1, col=2)
    d = _ok(df, "perceived_wait_s", cols=("mode", "status", "temperature", "prompt_id"))
    if d.empty or "mode" not in d.columns:
        return _empty(fig)
    mode_color = {"stream": "#2ca02c", "non-stream": "#d62728"}
    for mode in ("stream", "non-stream"):
        g = d[d["mode"] == mode]
        if g.empty:
            continue
        labs, st = [], {k: [] for k in ("q1", "median", "q3", "lowerfence", "upperfence", "mean")}
        ns = []
        for lab, gl in g.groupby("_label", sort=True, observed=True):
            labs.append(lab)
            ns.append(len(gl))
            for k, v in _box_stats(gl["perceived_wait_s"].to_numpy(dtype=float)).items():
                st[k].append(v)
        fig.add_trace(go.Box(x=labs, name=f"{mode} ({'TTFT' if mode == 'stream' else 'e2e'})", marker_color=mode_color[mode], boxpoints=False,
                             offsetgroup=mode, text=[f"n={n}" for n in ns], hoverinfo="y+text", **st), row=1, col=1)  # fmt: skip
    pairs = paired_frame(d.drop(columns="_label"))
    if len(pairs):
        labels = dict(zip(d["deployment"], d["_label"]))
        pairs = pairs.assign(_label=pairs["deployment"].map(labels))
        cd = np.column_stack([pairs["prompt_id"].astype(str), pairs["temperature"].astype(str), pairs["n_stream"] + pairs["n_non_stream"],
                              pairs["stream"], pairs["non_stream"]])  # fmt: skip
        fig.add_trace(go.Box(x=pairs["_label"], y=pairs["ratio"], name="per-prompt ratio", marker_color="#1f77b4", boxpoints="all", jitter=0.4,
                             pointpos=0, customdata=cd, showlegend=False,
                             hovertemplate="prompt %{customdata[0]} (temperature %{customdata[1]})<br>ratio %{y:.2f}×"
                                           "<br>stream %{customdata[3]:.3f} s vs non-stream %{customdata[4]:.3f} s<br>n=%{customdata[2]} requests<extra></extra>"),
                      row=1, col=2)  # fmt: skip
        fig.add_hline(y=1.0, line_dash="dot", line_color="#888", row=1, col=2)
    return fig
