"""Plotly figure builders: a request DataFrame (``store.load_requests`` columns) in, a Figure out. No streamlit.

One module per family: ``latency`` (boxes, ECDFs, temperature, streaming vs not), ``timelines`` (token
arrival, chunks, inter-token gaps, stalls), ``failures`` (errors over time), on the helpers in ``common``.
Everything is re-exported here, so ``charts.metric_box`` and the rest keep their names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
    "DEFAULT_VIEW", "FIGURES", "MAX_POINTS", "PALETTE", "USED_COLUMNS", "_colors", "_empty", "_fig", "_ok", "_sample", "default_figures", "dep_labels",
    "ecdf", "errors_over_time", "itl_distribution", "latency_vs_temperature", "log_ticks", "metric_box", "prepare", "stalls",
    "stream_vs_nonstream", "token_timeline", "tokens_per_chunk_edges", "tokens_per_chunk_histogram",
]  # fmt: skip


FIGURES: dict[str, Callable[[pd.DataFrame, float], go.Figure]] = {  # the metrics page's default view: name -> builder(frame, stall_s)
    "ttft_box": lambda df, _: metric_box(df, "ttft_s", "stream"),
    "ttft_ecdf": lambda df, _: ecdf(df, "ttft_s", "stream"),
    "e2e_box": lambda df, _: metric_box(df, "e2e_s", None),
    "tokens_per_s_box": lambda df, _: metric_box(df, "tokens_per_s", "stream"),
    "temperature": lambda df, _: latency_vs_temperature(df, "ttft_s", "stream"),
    "stream_vs_nonstream": lambda df, _: stream_vs_nonstream(df),
    "timeline": lambda df, _: token_timeline(df),
    "chunks": lambda df, _: tokens_per_chunk_histogram(df),
    "itl": lambda df, stall_s: itl_distribution(df, stall_s),
    "errors": lambda df, _: errors_over_time(df),
}
DEFAULT_VIEW = tuple(FIGURES)


def default_figures(df: pd.DataFrame, stall_s: float = 0.5, names: Sequence[str] = DEFAULT_VIEW) -> dict[str, go.Figure]:
    """The named charts of the metrics page's default view (all of them by default), by name."""
    if "_label" not in df.columns:
        df = prepare(df)
    return {n: FIGURES[n](df, stall_s) for n in names}
