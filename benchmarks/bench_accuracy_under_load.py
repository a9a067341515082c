"""Accuracy under load: the runner's TTFT and ITL against the built-in server's own truth.

    python benchmarks/bench_accuracy_under_load.py                  # quick: 2×C requests per level
    python benchmarks/bench_accuracy_under_load.py --waves 5        # more requests per level
    python benchmarks/bench_accuracy_under_load.py --levels 32,128 --requests 500

A simulated deployment (200 ms TTFT, 50 tokens/s, 100 tokens, no jitter) is run with
``streaming.bench.run_benchmark`` at each concurrency. For every request, the client's absolute
first-content time (t0_monotonic + ttft_s) is compared with the server's chunk_times[0] from
GET /debug/truth/{response_id} (both perf_counter = CLOCK_MONOTONIC, shared by the processes).
ITL error: each client gap minus the server's gap, when both saw the same number of chunks.

Targets: |TTFT error| p50 ≤ 1 ms and p99 ≤ 5 ms up to C=128; p99 ≤ 10 ms at C=256.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.bench.runner import run_benchmark  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import Store, load_requests  # noqa: E402

PROFILE = SimProfile(ttft_ms=200, tokens_per_s=50, jitter=0.0, output_tokens=100)


def target(c: int) -> tuple[float, float]:
    """(p50 limit, p99 limit) in ms for concurrency c."""
    return (1.0, 5.0) if c <= 128 else (float("inf"), 10.0)


def measure(server_url: str, db: str, c: int, n: int, ramp_s: float = 0.0) -> dict[str, float]:
    dep = Deployment(name=f"sim-acc-{c}", provider="simulated", model=f"sim-acc-{c}", sim=PROFILE)
    cfg = BenchConfig(deployments=[dep], mode="stream", requests=n, concurrency=c, ramp_s=ramp_s, warmup=1, max_tokens=100, prompts=["Tell me about latency."],
                      timeout_s=60, stall_s=30, notes=f"accuracy under load C={c}")  # fmt: skip
    os.environ["STREAMING_SERVER_URL"] = server_url
    with Store(db) as st:
        run = run_benchmark(cfg, st)
        info = st.run_info(run) or {}
    df = load_requests(db, [run])
    ok = df[df["status"] == "ok"]
    ttft_err, itl_err, coalesced = [], [], 0
    with httpx2.Client(timeout=30) as http:
        for _, row in ok.iterrows():
            t = http.get(f"{server_url}/debug/truth/{row['response_id']}").json()
            server = np.asarray(t["chunk_times"], dtype=float)
            client = row["t0_monotonic"] + np.asarray(row["chunk_times_s"], dtype=float)
            ttft_err.append(client[0] - server[0])
            if len(client) == len(server):
                itl_err.extend(np.diff(client) - np.diff(server))
            else:
                coalesced += 1
    te, ie = np.abs(np.asarray(ttft_err)) * 1000, np.abs(np.asarray(itl_err)) * 1000
    return {
        "c": c, "n": len(df), "errors": int((df["status"] != "ok").sum()), "ttft_p50": float(np.percentile(te, 50)),
        "ttft_p99": float(np.percentile(te, 99)), "ttft_max": float(te.max()), "itl_p50": float(np.percentile(ie, 50)) if len(ie) else float("nan"),
        "itl_p99": float(np.percentile(ie, 99)) if len(ie) else float("nan"), "coalesced": coalesced,
        "signed_ttft_p50": float(np.median(ttft_err)) * 1000, "loop_lag_p99": info.get("loop_lag_p99_ms") or float("nan"),
    }  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--levels", default="32,64,128,256", help="comma-separated concurrency levels")
    ap.add_argument("--waves", type=float, default=2.0, help="requests per level = waves × C (quick default: 2)")
    ap.add_argument("--requests", type=int, help="requests per level (overrides --waves)")
    ap.add_argument("--ramp", type=float, default=0.0, metavar="S",
                    help="start the C workers evenly over S seconds (default 0: all at once, the worst case: every wave's first tokens land together)")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    tmp = tempfile.mkdtemp()
    server = start_server(port=free_port(), log_dir=tmp)
    rows = []
    try:
        for c in levels:
            n = args.requests or int(args.waves * c)
            t = time.perf_counter()
            r = measure(server.url, os.path.join(tmp, "acc.db"), c, n, args.ramp)
            r["seconds"] = time.perf_counter() - t
            rows.append(r)
            print(f"C={c}: {n} requests in {r['seconds']:.1f} s", file=sys.stderr, flush=True)
    finally:
        server.stop()
    print(f"\nAccuracy under load: |client - server truth|, ms (profile {PROFILE.ttft_ms:g} ms TTFT, {PROFILE.tokens_per_s:g} tok/s, "
          f"{PROFILE.output_tokens} tokens; ramp {args.ramp:g} s; {os.cpu_count()} CPUs)")  # fmt: skip
    print(f"{'C':>5} {'n':>5} {'err':>4} {'TTFT p50':>9} {'TTFT p99':>9} {'TTFT max':>9} {'ITL p50':>8} {'ITL p99':>8} {'loop lag p99':>13}  target")
    best = None
    for r in rows:
        p50_lim, p99_lim = target(r["c"])
        holds = r["ttft_p50"] <= p50_lim and r["ttft_p99"] <= p99_lim and r["errors"] == 0
        if holds and (best is None or r["c"] > best):
            best = r["c"]
        print(f"{r['c']:>5} {r['n']:>5} {r['errors']:>4} {r['ttft_p50']:>9.2f} {r['ttft_p99']:>9.2f} {r['ttft_max']:>9.2f} "
              f"{r['itl_p50']:>8.2f} {r['itl_p99']:>8.2f} {r['loop_lag_p99']:>13.2f}  {'holds' if holds else 'MISSED'}")  # fmt: skip
    print(f"\nHighest concurrency at which the targets hold: {best if best is not None else 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
