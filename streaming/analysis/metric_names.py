"""The summary's metric names: which record columns get percentiles, which percentiles, and every column a summary has.

Below ``analysis.tables`` (which computes them) and ``analysis.capacity`` (whose SLOs name them).
"""

from __future__ import annotations

PERCENTILE_METRICS = {"ttft": "ttft_s", "e2e": "e2e_s", "tpot": "tpot_s", "tokens_per_s": "tokens_per_s", "wait": "perceived_wait_s"}


PCTS = (50, 90, 95, 99)


# What the user waited through retries, and (rate mode) from the intended send time: shown when they differ.
EXTRA_PERCENTILE_METRICS = {"ttft_incl_retries": "ttft_incl_retries_s", "e2e_incl_retries": "e2e_incl_retries_s",
                            "ttft_from_schedule": "ttft_from_schedule_s", "e2e_from_schedule": "e2e_from_schedule_s"}  # fmt: skip

SUMMARY_METRICS = ("n", "ok", "errors", "stopped", "error_rate", "retries", "retry_wait_s",
                   *(f"{m}_p{p}" for m in PERCENTILE_METRICS for p in PCTS), "schedule_lag_p99",
                   *(f"{m}_p{p}" for m in EXTRA_PERCENTILE_METRICS for p in PCTS))  # fmt: skip
