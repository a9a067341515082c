"""Metrics page cost for a big run: load from SQLite + aggregate (headline, percentile table with bootstrap CIs,
paired comparison) + build every default-view figure. Target: ≤ 2 s for 100,000 requests.

    python benchmarks/metrics_load.py            # quick: 20,000 requests
    python benchmarks/metrics_load.py --full     # 100,000 requests (the target)
    python benchmarks/metrics_load.py --n 50000 --db /tmp/m.db --repeat 3

The synthetic run (3 deployments × 2 temperatures × stream/non-stream × 50 prompts × repeats, ~40 chunks per
streamed request, 1 % 429s) is written once through ``streaming.store`` (not timed) and reused if the file exists.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming import store
from streaming.analysis import charts  # noqa: E402
from streaming.analysis.compare import paired_compare, paired_frame
from streaming.analysis.tables import headlines, percentile_table
from streaming.core.record import StreamRecord  # noqa: E402

DEPLOYMENTS = {"sim-fast": (0.2, 100.0), "sim-slow": (0.8, 25.0), "sim-turbo": (0.15, 200.0)}


def synth(n: int, seed: int = 0):
    """Yield (record, extra) pairs: a realistic benchmark matrix of n requests."""
    rng = np.random.default_rng(seed)
    t0 = dt.datetime(2026, 1, 1, 10, tzinfo=dt.timezone.utc)
    deps, temps, modes, prompts = list(DEPLOYMENTS), (0.0, 1.0), (True, False), 50
    for i in range(n):
        dep = deps[i % 3]
        temp = temps[(i // 3) % 2]
        stream = modes[(i // 6) % 2]
        p = (i // 12) % prompts
        base_ttft, tps = DEPLOYMENTS[dep]
        ttft = base_ttft * rng.lognormal(0, 0.2) * (1 + 0.1 * temp)
        k = int(rng.integers(20, 60))
        times = ttft + np.concatenate([[0.0], np.cumsum(rng.exponential(1 / tps, k - 1))])
        failed = rng.random() < 0.01
        rec = StreamRecord(deployment=dep, provider="simulated", model=dep, stream=stream, temperature=temp, max_tokens=64,
                           status="error" if failed else "ok", finish_reason="length", response_id=f"chatcmpl-{i}", request_id=f"req-{i}",
                           started_at=(t0 + dt.timedelta(milliseconds=20 * i)).isoformat(), http_status=429 if failed else 200,
                           output_tokens=None if failed else k, tokens_source="usage", chunks=k if stream and not failed else 0)  # fmt: skip
        if not failed:
            rec.e2e_s = float(times[-1] + 0.002)
            if stream:
                rec.ttft_s, rec.t_last_token_s = float(times[0]), float(times[-1])
                rec.chunk_times_s, rec.chunk_chars = times.tolist(), [4] * k
        else:
            rec.error, rec.error_type = "rate limited", "RateLimitError"
        yield rec, {"seq": i, "prompt_id": f"p{p}", "prompt_size": "short" if p % 2 else "long", "mode": "stream" if stream else "non-stream"}


def build(db: str, n: int) -> str:
    with store.Store(db) as s:
        run_id = s.create_run("bench", {"synthetic": True, "n": n}, notes="benchmarks/metrics_load.py")
        batch: list = []
        for item in synth(n):
            batch.append(item)
            if len(batch) == 5000:
                s.add_records(run_id, batch)
                batch = []
        if batch:
            s.add_records(run_id, batch)
        s.finish_run(run_id)
    return run_id


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--full", action="store_true", help="100,000 requests")
    ap.add_argument("--db", help="database file (reused when it already holds a run of this size)")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    n = 100_000 if a.full else a.n
    db = a.db or os.path.join(tempfile.gettempdir(), f"metrics_load_{n}.db")
    runs = store.list_runs(db) if os.path.exists(db) else None
    if runs is not None and len(runs) and int(runs.iloc[0]["n_requests"]) == n:
        run_id = str(runs.iloc[0]["run_id"])
    else:
        t = time.perf_counter()
        run_id = build(db, n)
        print(f"wrote {n:,} synthetic requests to {db} in {time.perf_counter() - t:.1f} s (not timed)")
    for r in range(a.repeat):
        t0 = time.perf_counter()
        df = store.load_requests(db, [run_id])
        t1 = time.perf_counter()
        df = charts.prepare(df)  # what the page caches per selection
        heads = headlines(df)
        table = percentile_table(df)
        paired = paired_compare(paired_frame(df))
        t2 = time.perf_counter()
        figs = charts.default_figures(df)
        t3 = time.perf_counter()
        total = t3 - t0
        print(f"[{r + 1}] n={len(df):,} requests: load {t1 - t0:.2f} s, aggregate {t2 - t1:.2f} s ({len(heads)} headlines, {len(table)} percentile "
              f"cells, {paired.n_pairs if paired else 0} pairs), figures {t3 - t2:.2f} s ({len(figs)}); total {total:.2f} s "
              f"(target ≤ 2 s: {'met' if total <= 2.0 else 'MISSED'})")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
