"""The benchmark summary as a sortable table for people: milliseconds and tokens/s, one row per (deployment, temperature, mode)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from streaming.analysis.estimators import is_supported

# (column shown, summary column, scale): times in ms, rates in tok/s
COLUMNS = (
    ("TTFT p50 (ms)", "ttft_p50", 1000.0, 50), ("TTFT p95 (ms)", "ttft_p95", 1000.0, 95),
    ("e2e p50 (ms)", "e2e_p50", 1000.0, 50), ("e2e p95 (ms)", "e2e_p95", 1000.0, 95),
    ("tok/s p50", "tokens_per_s_p50", 1.0, 50), ("wait p50 (ms)", "wait_p50", 1000.0, 50),
)  # fmt: skip


def summary_table(summary: pd.DataFrame) -> pd.DataFrame:
    """``tables.summarize`` output → numeric columns (sortable) in ms and tok/s, with n, errors, stopped (by the user: not
    errors) and a flag where p95 is only the maximum."""
    if summary.empty:
        return pd.DataFrame(columns=["deployment", "T", "mode", "n", "errors", "stopped", "retries", *(c for c, *_ in COLUMNS), "p95 ≈ max"])
    out = pd.DataFrame({
        "deployment": summary["deployment"].astype(str),
        "T": [("default" if pd.isna(v) else f"{v:g}") for v in summary["temperature"]],
        "mode": summary["mode"].astype(str), "n": summary["n"].astype(int), "errors": summary["errors"].astype(int),
        "stopped": (summary["stopped"] if "stopped" in summary.columns else pd.Series(0, index=summary.index)).astype(int),
        "retries": summary["retries"].astype(int),
    })  # fmt: skip
    ok = summary["ok"].astype(int).to_numpy()
    for label, col, scale, _ in COLUMNS:
        v = summary[col].to_numpy(dtype=float) * scale if col in summary.columns else np.full(len(summary), np.nan)
        out[label] = np.round(v, 1)
    # below the n a p95 needs, the "p95" is the sample's maximum: say so in its own column (sortable, filterable)
    out["p95 ≈ max"] = np.array([not is_supported(int(n), 0.95) for n in ok], dtype=bool)
    return out
