"""The time an aggregate throughput divides by: per worker and per run, on one wall clock, without the gaps between runs.

Each request's times are on the monotonic clock of the process that sent it (``t0_monotonic``), whose epoch
is that process's own: two hosts' readings cannot be subtracted. So the runner records, with every request,
its process's wall-clock anchor ``clock_offset_s`` (``time.time() − clock()`` at one instant, at the run's
start). A request's send on the shared wall clock is ``t0_monotonic + clock_offset_s``; its end adds ``e2e_s``.

- a *worker's* window: its first send to its last end (one clock: exact whatever the anchor);
- a *run's* window: from the earliest send to the latest end over its workers, on the wall clock;
- the *span* of a selection: the length of the union of its runs' windows, so the time between two runs
  is not counted, and two runs at once are not counted twice. A demo run (turns typed over hours) has no
  window of its own: each turn counts its own send to end.

Rows stored before the anchor existed use ``started_at − t0_monotonic`` (a wall-clock label to the
millisecond, taken just before the send) as their worker's anchor: the median over the worker's rows.
Wall clocks of different hosts agree only as well as their time sync (NTP: about a millisecond).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Span:
    """How long a selection was sending: seconds (the union of its runs' windows), over how many runs, and workers per run."""

    seconds: float
    runs: int
    workers: int
    anchored: bool = True  # every worker had its recorded anchor (else the started_at estimate stood in)

    @property
    def text(self) -> str:
        """``over 2 workers, 1 run, 12.3 s``."""
        if math.isnan(self.seconds):
            return "no timed request"
        w = f"{self.workers} worker{'s' if self.workers != 1 else ''}"
        r = f"{self.runs} run{'s' if self.runs != 1 else ''}"
        est = " (anchors estimated from started_at)" if not self.anchored else ""
        return f"over {w}, {r}, {self.seconds:.1f} s{est}"


NO_SPAN = Span(float("nan"), 0, 0)


def _column(df: pd.DataFrame, name: str) -> np.ndarray:
    return df[name].to_numpy(dtype=float, na_value=np.nan) if name in df.columns else np.full(len(df), np.nan)


def _wall_seconds(df: pd.DataFrame) -> np.ndarray:
    """``started_at`` as seconds since the epoch (NaN when missing or unreadable)."""
    if "started_at" not in df.columns:
        return np.full(len(df), np.nan)
    wall = pd.to_datetime(df["started_at"], errors="coerce", utc=True, format="ISO8601")
    return (wall - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy(dtype=float, na_value=np.nan)


def wall_offsets(df: pd.DataFrame) -> tuple[np.ndarray, bool]:
    """Per row, wall − monotonic of the process that sent it; and whether every row had its recorded anchor."""
    off = _column(df, "clock_offset_s")
    missing = ~np.isfinite(off)
    if not missing.any():
        return off, True
    t0 = _column(df, "t0_monotonic")
    if "started_at" in df.columns:
        guess = pd.Series(_wall_seconds(df) - t0, index=df.index)
        keys = [k for k in ("run_id", "worker") if k in df.columns]
        if keys:  # one anchor per worker: the median of its rows' estimates
            guess = guess.groupby([df[k].astype(object).fillna("") for k in keys], sort=False).transform("median")
        off = np.where(missing, guess.to_numpy(dtype=float), off)
    return off, False


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, -math.inf
    for a, b in sorted(intervals):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def span_of(df: pd.DataFrame) -> Span:
    """The selection's span (module doc); ``NO_SPAN`` when no row has a time."""
    if df.empty or not {"t0_monotonic", "started_at"} & set(df.columns):
        return NO_SPAN
    if "t0_monotonic" in df.columns:
        off, anchored = wall_offsets(df)
        t0 = _column(df, "t0_monotonic")
    else:  # a frame with wall-clock labels only: they are the times (to the millisecond)
        t0, off, anchored = _wall_seconds(df), np.zeros(len(df)), False
    e2e = _column(df, "e2e_s")
    end = np.where(np.isfinite(e2e), t0 + e2e, t0)
    timed = np.isfinite(t0)
    if not timed.any():
        return NO_SPAN
    d = pd.DataFrame({"run": df["run_id"].astype(object).fillna("").to_numpy() if "run_id" in df.columns else "",
                      "worker": df["worker"].astype(object).fillna("").to_numpy() if "worker" in df.columns else "",
                      "demo": (df["tag"] == "demo").to_numpy() if "tag" in df.columns else False,
                      "start": t0 + np.nan_to_num(off), "end": end + np.nan_to_num(off), "wall": np.isfinite(off)})[timed]  # fmt: skip
    on_wall = d[d["wall"]]
    intervals = [(float(a), float(b)) for a, b in on_wall.loc[on_wall["demo"], ["start", "end"]].itertuples(index=False)]
    runs = on_wall[~on_wall["demo"]].groupby("run", sort=False).agg(start=("start", "min"), end=("end", "max"))
    intervals += [(float(a), float(b)) for a, b in runs.itertuples(index=False)]
    seconds = _union_length(intervals)
    # no anchor at all (no offset, no started_at): each worker on its own clock; a run lasts as long as its longest worker
    own = d[~d["wall"]].groupby(["run", "worker"], sort=False).agg(start=("start", "min"), end=("end", "max"))
    if len(own):
        seconds += float((own["end"] - own["start"]).groupby(level="run").max().sum())
    workers = int(d.groupby("run", sort=False)["worker"].nunique().max())  # processes per run (the most of any run)
    single = d["run"].nunique() == 1 and workers == 1  # one clock: no anchor needed
    return Span(seconds if seconds > 0 else float("nan"), int(d["run"].nunique()), workers, anchored or single)


def worker_windows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (run, worker): first send, last end (its own clock) and the window in seconds."""
    if df.empty or "t0_monotonic" not in df.columns:
        return pd.DataFrame(columns=["run_id", "worker", "n", "window_s"])
    t0, e2e = _column(df, "t0_monotonic"), _column(df, "e2e_s")
    d = pd.DataFrame({"run_id": df["run_id"].astype(object) if "run_id" in df.columns else "",
                      "worker": df["worker"].astype(object).fillna("") if "worker" in df.columns else "",
                      "t0": t0, "end": np.where(np.isfinite(e2e), t0 + e2e, t0)}).dropna(subset=["t0"])  # fmt: skip
    g = d.groupby(["run_id", "worker"], sort=True).agg(n=("t0", "size"), first=("t0", "min"), last=("end", "max")).reset_index()
    return g.assign(window_s=g["last"] - g["first"])[["run_id", "worker", "n", "window_s"]]
