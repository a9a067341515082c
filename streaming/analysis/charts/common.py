"""Plotly figure builders: a request DataFrame (``store.load_requests`` columns) in, a Figure out. No streamlit.

Big runs stay fast and light: box plots are drawn from statistics computed over *all* rows, with at most
``MAX_POINTS`` sampled points per group on top; ECDFs and histograms are pre-binned with numpy.
Hover shows n and the request/response id wherever a point is one request.

This module reads better whole (about 390 lines): each chart is one short function over the same
few helpers (sampling, box statistics, colours per deployment, the empty-figure sentence), and a
new chart goes next to its siblings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from streaming.analysis.compare import paired_frame
from streaming.analysis.estimators import METRIC_LABELS, median_ci
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


def _chunk_arrays(df: pd.DataFrame, col: str) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in df[col] if v is not None and len(v)] if col in df.columns else []


def token_timeline(df: pd.DataFrame, keys: Sequence[object] | None = None, max_requests: int = 8) -> go.Figure:
    """Time since the request was sent against cumulative tokens, one marker per content chunk, for selected requests.

    ``keys``: response ids or request keys to show; by default the first few streamed requests of each deployment.
    """
    fig = _fig("Token timeline (one marker per chunk)", "time since request sent (s)", "cumulative tokens")
    d = _ok(df, mode="stream", cols=("chunk_times_s", "chunk_chars", "output_tokens", "response_id", "request_id", "request_key"))
    if "chunk_times_s" in d.columns:
        d = d[np.array([v is not None and len(v) > 0 for v in d["chunk_times_s"]], dtype=bool)]
    else:
        d = d.iloc[0:0]
    if keys:
        sel = d["response_id"].isin(list(keys))
        if "request_key" in d.columns:
            sel |= d["request_key"].isin(list(keys))
        d = d[sel]
    else:
        d = d.groupby("_label", sort=True, observed=True).head(max(1, max_requests // max(1, d["_label"].nunique())))
    if d.empty:
        return _empty(fig, "No streamed request with a timeline in this view.")
    colors = _colors(d["_label"])
    seen: set[str] = set()
    for _, r in d.head(max_requests * 4).iterrows():
        t = np.asarray(r["chunk_times_s"], dtype=float)
        chars = np.asarray(r["chunk_chars"], dtype=float) if "chunk_chars" in r and r["chunk_chars"] is not None and len(r["chunk_chars"]) == t.size else np.ones(t.size)
        order = np.argsort(t, kind="stable")  # a line that goes back in time reads as a zigzag: draw in arrival order
        t, chars = t[order], chars[order]
        per_chunk = (r["output_tokens"] / t.size) if pd.notna(r.get("output_tokens")) and r.get("output_tokens") else 1.0
        cum = np.arange(1, t.size + 1) * per_chunk
        lab = r["_label"]
        rid = r.get("response_id") or r.get("request_key")
        fig.add_trace(go.Scatter(
            x=t, y=cum, mode="lines+markers", name=lab, legendgroup=lab, showlegend=lab not in seen, marker=dict(size=5, color=colors[lab]),
            line=dict(width=1, color=colors[lab]), customdata=np.column_stack([np.arange(1, t.size + 1), chars]),
            hovertemplate=f"{lab}<br>response {rid}<br>request {r.get('request_id') or '—'}<br>chunk %{{customdata[0]}} of n={t.size}, "
                          "%{customdata[1]:.0f} chars<br>t=%{x:.3f} s, ≈%{y:.0f} tokens<extra></extra>",
        ))  # fmt: skip
        seen.add(lab)
    return fig


def _hist_bars(fig: go.Figure, values: dict[str, np.ndarray], edges: np.ndarray, unit: str, row: int | None = None, col: int | None = None,
               legend: bool = True) -> None:  # fmt: skip
    colors = _colors(list(values))
    for lab, v in sorted(values.items()):
        counts, _ = np.histogram(v, bins=edges)
        mids = (edges[:-1] + edges[1:]) / 2
        tr = go.Bar(x=mids, y=counts, width=np.diff(edges), name=f"{lab} (n={v.size})", marker_color=colors[lab], opacity=0.6, showlegend=legend,
                    customdata=np.column_stack([edges[:-1], edges[1:]]),
                    hovertemplate=f"{lab}<br>%{{customdata[0]:.3g}}–%{{customdata[1]:.3g}} {unit}: %{{y}}<br>n={v.size}<extra></extra>")  # fmt: skip
        fig.add_trace(tr, row=row, col=col) if row else fig.add_trace(tr)
    fig.update_layout(barmode="overlay")


def tokens_per_chunk_edges(values: np.ndarray, bins: int = 30) -> np.ndarray:
    """Bin edges over the values' own range (padded), so 1.0–1.4 tokens/chunk is spread over bars, not one integer-wide bin."""
    lo, hi = float(np.min(values)), float(np.max(values))
    pad = max(0.05 * (hi - lo), 0.25)
    return np.linspace(max(0.0, lo - pad), hi + pad, bins + 1)


def log_ticks(lo: float, hi: float) -> tuple[list[float], list[str]]:
    """1-2-5 ticks between ``lo`` and ``hi`` with full labels ("20", "50", "100"), for a log axis."""
    vals = [m * 10.0**e for e in range(int(np.floor(np.log10(lo))), int(np.ceil(np.log10(hi))) + 1) for m in (1, 2, 5)]
    vals = [v for v in vals if lo <= v <= hi] or [lo, hi]
    return vals, [f"{v:g}" for v in vals]


def tokens_per_chunk_histogram(df: pd.DataFrame) -> go.Figure:
    """Chunk sizes: tokens per chunk (output_tokens / chunks, per request) and characters per chunk.

    Bursts of many tokens per chunk reveal buffered streaming (e.g. Azure's default content filter)."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("tokens per chunk (per request)", "characters per chunk"))
    fig.update_layout(title_text="Chunk sizes: is the stream buffered?", margin=dict(l=60, r=20, t=80, b=50))
    fig.update_xaxes(title_text="tokens per chunk", row=1, col=1)
    fig.update_xaxes(title_text="characters per chunk", row=1, col=2)
    fig.update_yaxes(title_text="requests", row=1, col=1)
    fig.update_yaxes(title_text="chunks", row=1, col=2)
    d = _ok(df, mode="stream", cols=("chunks", "output_tokens", "chunk_chars"))
    d = d[(d["chunks"] > 0) & d["output_tokens"].notna()] if len(d) else d
    if d.empty:
        return _empty(fig, "No streamed request in this view.")
    tpc = {lab: (g["output_tokens"].to_numpy(float) / g["chunks"].to_numpy(float)) for lab, g in d.groupby("_label", observed=True)}
    _hist_bars(fig, tpc, tokens_per_chunk_edges(np.concatenate(list(tpc.values()))), "tokens/chunk", row=1, col=1)
    allv = np.concatenate(list(tpc.values()))
    if np.ptp(allv) < 1e-9:  # one value: a single bar is the truth, so say it in words
        fig.add_annotation(text=f"all {allv.size} requests: {allv[0]:.3g} tokens per chunk", showarrow=False, xref="x domain", yref="y domain",
                           x=0.5, y=1.0, yanchor="bottom", font=dict(size=11, color="#444"))  # fmt: skip
    chars = {lab: np.concatenate(a) for lab, g in d.groupby("_label", observed=True) if (a := _chunk_arrays(g, "chunk_chars"))}
    if chars:
        top = max(float(np.percentile(v, 99.5)) for v in chars.values())
        edges = np.linspace(0, max(top, 1.0) + 1, 41)
        _hist_bars(fig, {k: np.minimum(v, edges[-1] - 1e-9) for k, v in chars.items()}, edges, "chars", row=1, col=2, legend=False)
    return fig


def itl_distribution(df: pd.DataFrame, stall_s: float = 0.5) -> go.Figure:
    """Inter-token latency histogram per deployment (ms, log-spaced bins) with the stall threshold and stall counts."""
    fig = _fig(f"Inter-token latency; stalls = gaps over {stall_s * 1000:.0f} ms", "inter-token latency (ms)", "gaps")
    d = _ok(df, mode="stream", cols=("itl_s",))
    col = "itl_s" if "itl_s" in d.columns else None
    if d.empty or col is None:
        return _empty(fig)
    itl = {lab: np.concatenate(a) * 1000 for lab, g in d.groupby("_label", observed=True) if (a := [x for x in _chunk_arrays(g, col) if x.size])}
    if not itl:
        return _empty(fig, "No request in this view has two or more chunks.")
    allv = np.concatenate(list(itl.values()))
    pos = allv[allv > 0]
    lo = max(float(pos.min()) if pos.size else 0.01, 0.01)
    hi = max(float(allv.max()), stall_s * 1000 * 1.5, lo * 10)
    edges = np.geomspace(lo, hi, 61)
    _hist_bars(fig, {k: np.clip(v, lo, hi) for k, v in itl.items()}, edges, "ms")
    tv, tt = log_ticks(lo, hi)
    fig.update_xaxes(type="log", tickvals=tv, ticktext=tt)
    fig.add_vline(x=stall_s * 1000, line_dash="dash", line_color="#d62728")
    stalls = {k: int((v > stall_s * 1000).sum()) for k, v in itl.items()}
    fig.add_annotation(text="stalls: " + ", ".join(f"{k} {v}" for k, v in sorted(stalls.items())), showarrow=False, xref="paper", yref="paper",
                       x=1, y=1.06, xanchor="right", font=dict(size=11, color="#d62728"))  # fmt: skip
    return fig


def stalls(df: pd.DataFrame, stall_s: float = 0.5) -> pd.DataFrame:
    """Requests with at least one gap over ``stall_s``: deployment, response_id, request_id, stalls, max gap (s)."""
    d = _ok(df, mode="stream")
    if d.empty or "itl_s" not in d.columns:
        return pd.DataFrame(columns=["deployment", "response_id", "request_id", "stalls", "max_gap_s"])
    n = np.array([int((np.asarray(v) > stall_s).sum()) if v is not None and len(v) else 0 for v in d["itl_s"]])
    mx = np.array([float(np.max(v)) if v is not None and len(v) else 0.0 for v in d["itl_s"]])
    out = d.assign(stalls=n, max_gap_s=mx)
    return out.loc[out["stalls"] > 0, ["deployment", "response_id", "request_id", "stalls", "max_gap_s"]].reset_index(drop=True)


def errors_over_time(df: pd.DataFrame, bins: int = 40) -> go.Figure:
    """Failed requests, retries and HTTP 429s per time bin (by the request's start time)."""
    fig = _fig("Errors, retries and 429s over time", "time (UTC)", "count per bin")
    if df.empty or "started_at" not in df.columns:
        return _empty(fig)
    t = pd.to_datetime(df["started_at"], errors="coerce", utc=True, format="ISO8601")
    d = df.assign(_t=t).dropna(subset=["_t"])
    if d.empty:
        return _empty(fig)
    err = (d["status"] != "ok").fillna(True).to_numpy(dtype=bool) if "status" in d.columns else np.zeros(len(d), bool)
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
    for name, w, color in (("failed requests", err.astype(float), "#d62728"), ("retries", retries, "#ff7f0e"), ("HTTP 429", np.asarray(r429, float), "#9467bd")):
        fig.add_trace(go.Bar(x=mids, y=np.bincount(which, weights=w, minlength=len(edges) - 1), name=name, marker_color=color, customdata=total,
                             hovertemplate=f"%{{x}}<br>{name}: %{{y:.0f}}<br>n=%{{customdata}} requests in bin<extra></extra>"))  # fmt: skip
    fig.update_layout(barmode="group")
    peak = max(float(err.sum()), float(retries.sum()), float(np.asarray(r429, float).sum()))
    fig.update_yaxes(rangemode="nonnegative", range=[0, 1] if peak == 0 else None, dtick=1 if peak <= 5 else None)
    if peak == 0:
        fig.add_annotation(text=f"No failed requests, retries or 429s in these {len(d)} requests.", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5, font=dict(size=13, color="#666"))  # fmt: skip
    return fig


DEFAULT_VIEW = ("ttft_box", "ttft_ecdf", "e2e_box", "tokens_per_s_box", "temperature", "stream_vs_nonstream", "timeline", "chunks", "itl", "errors")


def default_figures(df: pd.DataFrame, stall_s: float = 0.5) -> dict[str, go.Figure]:
    """Every chart of the metrics page's default view, by name."""
    if "_label" not in df.columns:
        df = prepare(df)
    return {
        "ttft_box": metric_box(df, "ttft_s", "stream"),
        "ttft_ecdf": ecdf(df, "ttft_s", "stream"),
        "e2e_box": metric_box(df, "e2e_s", None),
        "tokens_per_s_box": metric_box(df, "tokens_per_s", "stream"),
        "temperature": latency_vs_temperature(df, "ttft_s", "stream"),
        "stream_vs_nonstream": stream_vs_nonstream(df),
        "timeline": token_timeline(df),
        "chunks": tokens_per_chunk_histogram(df),
        "itl": itl_distribution(df, stall_s),
        "errors": errors_over_time(df),
    }
