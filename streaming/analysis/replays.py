"""Replayed requests (``provider = "replay"``) kept apart from live measurements: they repeat recorded timings."""

from __future__ import annotations

import numpy as np
import pandas as pd

LIVE, REPLAYS, BOTH = "Live measurements", "Replays", "Both (replays labelled)"
CHOICES = (LIVE, REPLAYS, BOTH)


def is_replay(df: pd.DataFrame) -> np.ndarray:
    """True for each replayed request."""
    if "provider" not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return (df["provider"].astype(object) == "replay").to_numpy(dtype=bool)


def default_choice(df: pd.DataFrame) -> str:
    """Live measurements when there are any, else the replays (a run of only replays is still shown)."""
    return LIVE if (~is_replay(df)).any() else REPLAYS


def choose(df: pd.DataFrame, choice: str) -> np.ndarray:
    """The rows ``choice`` keeps."""
    replay = is_replay(df)
    return ~replay if choice == LIVE else replay if choice == REPLAYS else np.ones(len(df), dtype=bool)


def hidden_sentence(df: pd.DataFrame, choice: str) -> str | None:
    """What the choice leaves out, or that what is shown is replays, in one sentence (None for live measurements only)."""
    replay = is_replay(df)
    if choice == LIVE and replay.any():
        return (f"{int(replay.sum()):,} replayed requests are left out: a replay repeats recorded timings, it is not a live measurement "
                "(choose Replays or Both under Measurements).")  # fmt: skip
    if choice == REPLAYS and (~replay).any():
        return f"Showing replays only: {int((~replay).sum()):,} live requests are left out."
    if choice == REPLAYS:
        return "These requests are replays: recorded timings, not live measurements."
    return None


def replay_labels(df: pd.DataFrame) -> dict[str, str]:
    """Each replayed deployment's label: ``{"replay-slow": "replay of sim-slow (simulated, recorded 2026-11-30)"}``."""
    if "replay_of" not in df.columns:
        return {}
    rows = df[is_replay(df) & df["replay_of"].notna()]
    return dict(zip(rows["deployment"].astype(str), rows["replay_of"].astype(str)))


def replay_notes(df: pd.DataFrame) -> list[str]:
    """One line per replayed deployment: ``replay-slow is a replay of sim-slow (…): recorded timings, not live measurements.``"""
    return [f"{name} is a {label}: recorded timings, not live measurements." for name, label in sorted(replay_labels(df).items())]
