"""Plotly figure builders: a request DataFrame (``store.load_requests`` columns) in, a Figure out. No streamlit.

One module per family: ``latency`` (boxes, ECDFs, temperature, streaming vs not), ``timelines`` (token
arrival, chunks, inter-token gaps, stalls), ``failures`` (errors over time), on the helpers in ``common``.
Everything is re-exported here, so ``charts.metric_box`` and the rest keep their names.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from streaming.analysis.charts.common import (
    MAX_POINTS,
    PALETTE,
    USED_COLUMNS,
    _colors,
    _empty,
    _fig,
    _ok,
    _sample,
    dep_labels,
    prepare,
)
from streaming.analysis.charts.failures import errors_over_time
from streaming.analysis.charts.latency import ecdf, latency_vs_temperature, metric_box, stream_vs_nonstream
from streaming.analysis.charts.timelines import (
    itl_distribution,
    log_ticks,
    stalls,
    token_timeline,
    tokens_per_chunk_edges,
    tokens_per_chunk_histogram,
)

__all__ = [
    "DEFAULT_VIEW", "MAX_POINTS", "PALETTE", "USED_COLUMNS", "_colors", "_empty", "_fig", "_ok", "_sample", "default_figures", "dep_labels",
    "ecdf", "errors_over_time", "itl_distribution", "latency_vs_temperature", "log_ticks", "metric_box", "prepare", "stalls",
    "stream_vs_nonstream", "token_timeline", "tokens_per_chunk_edges", "tokens_per_chunk_histogram",
]  # fmt: skip


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
