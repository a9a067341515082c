"""The capacity sweep on a simulated capacity of 16: wall time and the edge it finds.

A simulated deployment (50 ms TTFT, 100 tokens/s, 10 output tokens, so a stream lasts about
140 ms; capacity 16: the 17th concurrent stream waits for a slot) is swept by concurrency from 1
under ``ttft_p95 <= 0.1``: doubling 1, 2, 4, 8, 16, 32, then bisecting 32 → 24 → 20 → 18 → 17.
The expected edge is 16. Requests per step default to 100 (p95 is supported from 20; the
command's own default for p95 is 400, four times as long).

    python benchmarks/sweep_capacity.py [--requests-per-step 100] [--capacity 16]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import orjson  # noqa: E402

from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.bench.sweep import run_sweep  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import Store  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--capacity", type=int, default=16)
    ap.add_argument("--requests-per-step", type=int, default=100)
    ap.add_argument("--slo", default="ttft_p95 <= 0.1")
    ap.add_argument("--json", action="store_true", help="also print the sweep's JSON")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="sweep-bench-")
    server = start_server(port=free_port(), log_dir=tmp)
    os.environ["STREAMING_SERVER_URL"] = server.url
    dep = Deployment(name="sim-cap", provider="simulated", model="sim-cap",
                     sim=SimProfile(ttft_ms=50, tokens_per_s=100, output_tokens=10, capacity=args.capacity))  # fmt: skip
    try:
        with Store(os.path.join(tmp, "sweep.db")) as db:
            t = time.perf_counter()
            res = run_sweep(BenchConfig(deployments=[dep], mode="stream", warmup=1, prompts=["Say hello."]), db, [args.slo], "concurrency",
                            max_load=4 * args.capacity, requests_per_step=args.requests_per_step,
                            on_step=lambda s: print(f"  concurrency {s.load:4g}: ttft_p95 {s.ttft_p95.value * 1000:6.1f} ms "
                                                    f"[{s.ttft_p95.lo * 1000:.1f}–{s.ttft_p95.hi * 1000:.1f}]  "
                                                    f"{s.throughput['requests_per_s']:6.1f} req/s  {'holds' if s.holds else 'breaks'}",
                                                    flush=True))  # fmt: skip
            wall = time.perf_counter() - t
    finally:
        server.stop()
    out = res.to_dict()
    print(f"capacity {args.capacity}, {args.requests_per_step} requests per step, SLO {args.slo}")
    print(f"wall time: {wall:.1f} s for {len(res.steps)} steps ({sum(s.n for s in res.steps)} requests)")
    print(f"found edge: {out['max_concurrency_within_slo']} (expected {args.capacity}); {out['edge']['sentence']}")
    print(f"saturated_at: {out['saturated_at']}; client_limited: {out['client_limited']}")
    if args.json:
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
