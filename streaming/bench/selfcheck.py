"""The runner's checks on itself: is the client's own event loop slow enough to put its timestamps at risk?
"""

from __future__ import annotations

import numpy as np

# Measured (benchmarks/loop_lag_vs_error.py): a chunk's stamp is late by about the loop's lag at that moment, so the
# stamps' p99 error is close to the lag's p99 (loop blocked 5/10/20 ms: lag p99 10.6/10.5/21.7 ms, stamp error p99
# 9.8/9.1/19.1 ms; TTFT error p99 stayed under 6 ms). Above 10 ms, chunk times and ITL can be off by more than the
# client's accuracy bar (7 ms p99); below it, they are not. The p99 needs 100 samples (1 s of run): shorter runs are
# judged on their median, so one slow start-up tick never warns.
LOOP_LAG_WARN_MS = 10.0
LOOP_LAG_MIN_SAMPLES = 100


def loop_lag_warning(lags_s: list[float]) -> str | None:
    """A sentence when the client's own event-loop lag puts its timestamps at risk (see LOOP_LAG_WARN_MS), else None."""
    if not lags_s:
        return None
    lag = np.asarray(lags_s) * 1000
    enough = lag.size >= LOOP_LAG_MIN_SAMPLES
    value, name = (float(np.percentile(lag, 99)), "p99") if enough else (float(np.median(lag)), "median")
    if value <= LOOP_LAG_WARN_MS:
        return None
    return (f"the client's event loop lagged ({name} {value:.1f} ms > {LOOP_LAG_WARN_MS:g} ms): chunk timestamps may be late by about "
            "as much, so ITL and TTFT can be off by that; lower the concurrency, or run the load away from other work (the CLI)")  # fmt: skip


SEND_LAG_WARN_S = 0.010  # rate mode: sends later than this at p99 mean the rate was not fully offered


def send_lag_warning(lags_s: list[float]) -> str | None:
    """Rate mode: a sentence when the sends fell behind the Poisson schedule (p99 of ``sent_s − scheduled_s``)."""
    if lags_s and (p99 := float(np.percentile(lags_s, 99))) > SEND_LAG_WARN_S:
        return (f"sends fell behind the Poisson schedule (p99 {p99 * 1000:.0f} ms late): the rate was not fully offered; "
                "each request's intended and actual send times are stored (scheduled_s, sent_s)")
    return None
