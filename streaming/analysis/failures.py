"""Failed requests of a run in plain sentences: one per kind of failure, with a request id to quote.

Used by the CLI after ``bench`` and by the benchmark page, so both say the same thing.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from streaming.core.record import STOPPED_STATUSES

VERBS = {"error": "failed", "interrupted": "were interrupted", "stalled": "stalled", "protocol_error": "got a malformed response",
         "filtered": "were filtered"}  # fmt: skip


def _clean(v: Any) -> str | None:
    return v if isinstance(v, str) and v else None


def error_summary(df: pd.DataFrame, limit: int = 5) -> list[str]:
    """One sentence per (status, error type) among the failed requests, most frequent first, e.g.
    "4 requests failed: HTTP 404: the deployment or route was not found. Example request id: abc."."""
    if df is None or not len(df) or "status" not in df:
        return []
    bad = df[(df["status"] != "ok") & ~df["status"].isin(STOPPED_STATUSES)]  # stopped by the user is not a failure
    if "warmup" in bad:
        bad = bad[~bad["warmup"].astype(bool)]
    if not len(bad):
        return []
    out = []
    keys = bad["error_type"].where(bad["error_type"].notna(), "unknown")
    groups = sorted(bad.groupby([bad["status"], keys], sort=False), key=lambda kv: -len(kv[1]))
    for (status, _), g in groups[:limit]:
        first = g.iloc[0]
        what = (_clean(first.get("error")) or "the request failed").rstrip(".").replace("\n", " ")
        rid = next((r for col in ("request_id", "response_id") if col in g for r in g[col] if _clean(r)), None)
        n = len(g)
        verb = VERBS.get(str(status), str(status))
        if n == 1:
            verb = verb.replace("were ", "was ")
        out.append(f"{n} request{'s' if n != 1 else ''} {verb}: {what}." + (f" Example request id: {rid}." if rid else ""))
    if len(groups) > limit:
        out.append(f"…and {len(groups) - limit} other kind(s) of failure.")
    return out
