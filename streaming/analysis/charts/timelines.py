"""Inside the streams: when each token arrived, tokens per chunk, the gaps between chunks and the stalls."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from streaming.analysis.charts.common import _colors, _empty, _fig, _ok


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
