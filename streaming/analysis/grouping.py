"""The one definition of how rows are grouped: every table, card and throughput figure splits by these keys.

- ``GROUP_KEYS``: deployment, temperature, mode, api, reasoning effort: a percentile table's row, a
  throughput row, a summary row;
- ``IDENTITY_KEYS``: what was asked of whom (deployment, api, reasoning effort): a headline card each,
  over both modes and every temperature (the card's wait ratio needs both modes);
- api and reasoning effort are keys only where the selection varies them, so a run of one API keeps its
  table narrow, and low and high effort never share a row or a confidence interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

GROUP_KEYS = ("deployment", "temperature", "mode", "api", "reasoning_effort")
IDENTITY_KEYS = ("deployment", "api", "reasoning_effort")
WHEN_VARIED = ("api", "reasoning_effort")  # keys only when the rows hold more than one value


def group_keys(df: pd.DataFrame, keys: Sequence[str] = GROUP_KEYS) -> list[str]:
    """The keys of ``keys`` that split ``df``: present columns, and api / effort only when they vary."""
    return [k for k in keys if k in df.columns and (k not in WHEN_VARIED or df[k].nunique(dropna=False) > 1)]


def group_label(keys: Sequence[str], values: Sequence[Any], names: dict[str, str] | None = None) -> str:
    """``gpt-5 · responses · effort high``: a group's deployment (by its display name) and its varied keys."""
    parts = []
    for k, v in zip(keys, values):
        missing = v is None or (isinstance(v, float) and v != v)
        if k == "deployment":
            parts.append((names or {}).get(str(v), str(v)))
        elif k == "reasoning_effort":
            parts.append(f"effort {'default' if missing else v}")
        elif k == "temperature":
            parts.append(f"T={'default' if missing else f'{v:g}'}")
        else:
            parts.append("default" if missing else str(v))
    return " · ".join(parts)
