"""Reasoning models: latency across reasoning efforts (medians with CIs), and the per-request breakdown of a wait.

The breakdown of one streamed request, on its own clock (seconds from ``t0``):
connect (``connect_s``, before ``t0``) → waiting (``t0`` → first reasoning event, or → TTFT when none streamed)
→ thinking (first reasoning event → TTFT) → answer (TTFT → last token).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from streaming.analysis.estimators import DEFAULT_RESAMPLES, DEFAULT_SEED, median_ci
from streaming.analysis.tables import ok_rows

EFFORT_ORDER = ("minimal", "low", "medium", "high")
EFFORT_METRICS = {"TTFT": "ttft_s", "thinking": "thinking_s", "reasoning tokens": "reasoning_tokens", "visible tokens/s": "tokens_per_s"}
EFFORT_NOTE = ("Medians over successful streamed requests with 95 % bootstrap CIs, per deployment, API and effort. Thinking = TTFT − first "
               "reasoning event (only where reasoning was streamed); visible tokens/s excludes reasoning tokens.")
SEGMENTS = (("connect", "#9e9e9e"), ("waiting", "#90caf9"), ("thinking", "#ce93d8"), ("answer", "#66bb6a"))


def has_reasoning(df: pd.DataFrame) -> bool:
    """True when some request asked for a reasoning effort or reported reasoning tokens."""
    for c in ("reasoning_effort", "reasoning_tokens"):
        if c in df.columns and df[c].notna().any() and (c != "reasoning_tokens" or (pd.to_numeric(df[c], errors="coerce").fillna(0) > 0).any()):
            return True
    return False


def effort_table(df: pd.DataFrame, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> pd.DataFrame:
    """One row per (deployment, api, effort) of successful streamed requests: each metric's median and its 95 % CI, and n.

    Columns: deployment, api, effort, n, then for each metric ``<name>``, ``<name> lo``, ``<name> hi``.
    """
    cols = ["deployment", "api", "effort", "n"] + [f"{m}{s}" for m in EFFORT_METRICS for s in ("", " lo", " hi")]
    if df.empty:
        return pd.DataFrame(columns=cols)
    d = ok_rows(df)
    if "stream" in d.columns:
        d = d[d["stream"].astype(bool)]
    d = d.assign(effort=(d["reasoning_effort"] if "reasoning_effort" in d.columns else pd.Series(None, index=d.index)).fillna("default"),
                 api=d["api"].fillna("chat") if "api" in d.columns else "chat")  # fmt: skip
    rows = []
    for (dep, api, effort), g in d.groupby(["deployment", "api", "effort"], sort=False):
        row: dict[str, object] = {"deployment": dep, "api": api, "effort": effort, "n": len(g)}
        for name, col in EFFORT_METRICS.items():
            x = pd.to_numeric(g[col], errors="coerce").to_numpy(float) if col in g.columns else np.array([])
            e = median_ci(x, resamples=resamples, seed=seed)
            row[name], row[f"{name} lo"], row[f"{name} hi"] = e.value, e.lo, e.hi
        rows.append(row)
    out = pd.DataFrame(rows, columns=cols)
    rank = {e: i for i, e in enumerate(EFFORT_ORDER)}
    return out.sort_values(["deployment", "api", "effort"], key=lambda c: c.map(rank).fillna(99) if c.name == "effort" else c, kind="stable").reset_index(drop=True)


def breakdown(df: pd.DataFrame) -> pd.DataFrame:
    """Per streamed request: the seconds spent connecting, waiting, thinking and reading the answer (see the module doc)."""
    d = df[df["stream"].astype(bool)] if "stream" in df.columns and len(df) else df
    if d.empty:
        return pd.DataFrame(columns=["label", *(s for s, _ in SEGMENTS)])
    num = {c: pd.to_numeric(d[c], errors="coerce") if c in d.columns else pd.Series(np.nan, index=d.index)
           for c in ("connect_s", "t_first_reasoning_s", "ttft_s", "t_last_token_s")}  # fmt: skip
    first_r = num["t_first_reasoning_s"]
    ttft = num["ttft_s"]
    waiting = first_r.where(first_r.notna(), ttft)
    label = d["deployment"].astype(str)
    if "reasoning_effort" in d.columns:
        label = label + " · " + d["reasoning_effort"].fillna("default").astype(str)
    return pd.DataFrame({
        "label": label + " #" + d.get("seq", pd.Series(range(len(d)), index=d.index)).astype(str),
        "connect": num["connect_s"].fillna(0.0), "waiting": waiting,
        "thinking": (ttft - first_r).clip(lower=0).fillna(0.0), "answer": num["t_last_token_s"] - ttft,
    }).reset_index(drop=True)  # fmt: skip


def effort_figure(table: pd.DataFrame, metric: str = "TTFT") -> go.Figure:
    """A metric's median by effort, per deployment and API, with its 95 % CI as error bars."""
    fig = go.Figure()
    unit = "s" if metric in ("TTFT", "thinking") else ""
    for (dep, api), g in table.groupby(["deployment", "api"], sort=False):
        fig.add_trace(go.Bar(name=f"{dep} · {api}", x=g["effort"], y=g[metric],
                             error_y=dict(type="data", symmetric=False, array=g[f"{metric} hi"] - g[metric], arrayminus=g[metric] - g[f"{metric} lo"])))  # fmt: skip
    fig.update_layout(title=f"{metric} by reasoning effort (median, 95 % CI)", xaxis_title="reasoning effort", yaxis_title=f"{metric} {unit}".strip(),
                      barmode="group", height=360, margin=dict(l=40, r=20, t=50, b=40))  # fmt: skip
    return fig


def breakdown_figure(parts: pd.DataFrame, max_requests: int = 20) -> go.Figure:
    """Stacked horizontal bars, one per request: connect → waiting → thinking → first visible token → last token."""
    p = parts.head(max_requests)
    fig = go.Figure()
    for seg, color in SEGMENTS:
        fig.add_trace(go.Bar(name=seg, y=p["label"], x=p[seg], orientation="h", marker_color=color))
    fig.update_layout(title="Where each request's time went (s): connect → waiting → thinking → first visible token → last token", barmode="stack",
                      xaxis_title="seconds", height=max(240, 28 * len(p) + 100), margin=dict(l=40, r=20, t=50, b=40))  # fmt: skip
    return fig
