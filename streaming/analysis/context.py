"""TTFT against context length: one point per streamed request at (input tokens, TTFT), coloured by conversation turn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go


def ttft_vs_input_tokens(df: pd.DataFrame) -> go.Figure:
    """Successful streamed requests; a conversation's turns (``turn_index``) get one colour each, other requests another."""
    fig = go.Figure()
    fig.update_layout(title="TTFT against context length (input tokens)", xaxis_title="input tokens", yaxis_title="TTFT (s)",
                      template="plotly_white", height=420)  # fmt: skip
    need = {"status", "ttft_s", "input_tokens"}
    d = df[(df["status"] == "ok") & df["ttft_s"].notna() & df["input_tokens"].notna()] if need <= set(df.columns) else df.iloc[0:0]
    if d.empty:
        fig.add_annotation(text="No streamed request with input tokens.", showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        return fig
    turns = d["turn_index"] if "turn_index" in d.columns else pd.Series(np.nan, index=d.index)
    for t in sorted({int(v) for v in turns.dropna()}) + ([None] if turns.isna().any() else []):
        g = d[turns.isna()] if t is None else d[turns == t]
        fig.add_trace(go.Scatter(x=g["input_tokens"].astype(float), y=g["ttft_s"].astype(float), mode="markers",
                                 name="single request" if t is None else f"turn {t + 1}", opacity=0.75))  # fmt: skip
    return fig
