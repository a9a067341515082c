"""The knee chart of a sweep: throughput against TTFT p95 and e2e p95, one point per step with its 95 % CI,
the latency SLOs as lines, and the edge marked."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go

from streaming.analysis.capacity import span_text
from streaming.analysis.sweep import SweepResult

_COLORS = {"ttft_p95": "#1f77b4", "e2e_p95": "#ff7f0e"}
_NAMES = {"ttft_p95": "TTFT p95", "e2e_p95": "e2e p95"}


def _span(step: Any) -> str:
    """Which span the step's throughput divides by (``over 2 workers, 1 run, 12.3 s``)."""
    t = step.throughput
    return span_text((t.get("duration_s", math.nan), t.get("runs", 0), t.get("workers", 0)))


def knee_chart(result: SweepResult, x: str = "output_tokens_per_s") -> go.Figure:
    """One point per step (labelled with its load), CI bars, each latency SLO as a dashed line, the edge as a star."""
    steps = sorted(result.steps, key=lambda s: s.load)
    unit = "streams" if result.by == "concurrency" else "req/s"
    xlabel = {"output_tokens_per_s": "throughput (output tokens/s)", "requests_per_s": "throughput (requests/s)"}.get(x, x)
    fig = go.Figure()
    fig.update_layout(title=f"Capacity knee: latency against throughput, one point per {result.by} step", xaxis_title=xlabel,
                      yaxis_title="seconds", template="plotly_white", height=480, legend={"orientation": "h", "y": -0.2})  # fmt: skip
    if not steps:
        fig.add_annotation(text="No finished step.", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return fig
    xs = [s.throughput.get(x, math.nan) for s in steps]
    for key in ("ttft_p95", "e2e_p95"):
        est = [getattr(s, key) for s in steps]
        fig.add_trace(go.Scatter(
            x=xs, y=[e.value for e in est], mode="lines+markers+text", name=_NAMES[key], line={"color": _COLORS[key]},
            text=[f"{s.load:g}" for s in steps], textposition="top left",
            error_y={"type": "data", "symmetric": False, "array": [e.hi - e.value for e in est], "arrayminus": [e.value - e.lo for e in est]},
            customdata=[[s.load, e.lo, e.hi, e.n, _span(s)] for s, e in zip(steps, est)],
            hovertemplate=f"{result.by} %{{customdata[0]:g}} {unit}<br>{_NAMES[key]} %{{y:.3f}} s (95 %% CI %{{customdata[1]:.3f}}–%{{customdata[2]:.3f}}, n=%{{customdata[3]}})<br>"
                          f"{xlabel} %{{x:.1f}} (%{{customdata[4]}})<extra></extra>",
        ))  # fmt: skip
    for slo in result.slos:
        if slo.metric in _NAMES:
            fig.add_hline(y=slo.value, line_dash="dash", line_color=_COLORS[slo.metric], annotation_text=f"SLO {slo.text}",
                          annotation_position="top right")  # fmt: skip
    edge = result.edge
    if edge is not None:
        metric = next((s.metric for s in result.slos if s.metric in _NAMES), "ttft_p95")
        y = getattr(edge, metric).value
        sure = "" if result.verdict["certain"] else " (uncertain)"
        fig.add_trace(go.Scatter(x=[edge.throughput.get(x, math.nan)], y=[y], mode="markers", name=f"edge: {edge.load:g} {unit}{sure}",
                                 marker={"symbol": "star", "size": 18, "color": "#d62728", "line": {"width": 1, "color": "black"}}))  # fmt: skip
        fig.add_annotation(x=edge.throughput.get(x, math.nan), y=y, text=f"edge {edge.load:g} {unit}{sure}", showarrow=True, arrowhead=2, ax=-70, ay=-45)
    return fig
