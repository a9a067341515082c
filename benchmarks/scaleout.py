"""Scale-out: how many streamed chunks/s can 1, 2 and 4 Ray workers time honestly?

For each worker count, closed-loop runs at rising concurrency against a simulated
deployment (200 ms TTFT, 50 tok/s, 100 tokens, no jitter: C streams = 50·C chunks/s).
Every record's first-content stamp is compared with the built-in server's truth (both
read CLOCK_MONOTONIC on this machine): the arrival error is client stamp − server write.
A level passes when the arrival error's p99 ≤ --max-p99-ms; the table gives the highest
passing chunks/s per worker count, and the clients' CPU per chunk (process time of the
worker processes over the chunks they read). On a 2-core machine the server shares the
cores with the clients, so the server is a limit too: read the CPU column beside it.

    python benchmarks/scaleout.py                                 # workers 1,2,4 × C 64,128,256,512
    python benchmarks/scaleout.py --workers 1,2 --levels 128,256 --waves 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import httpx2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.bench.distributed import run_distributed  # noqa: E402
from streaming.bench.plan import plan_run  # noqa: E402
from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import Store, load_requests  # noqa: E402

PROFILE = SimProfile(ttft_ms=200, tokens_per_s=50, jitter=0.0, output_tokens=100)


def level(url: str, db: str, workers: int, conc: int, waves: int) -> dict[str, float]:
    name = f"sim-scale-{workers}-{conc}-{time.monotonic_ns()}"
    dep = Deployment(name=name, provider="simulated", model=name, sim=PROFILE)
    cfg = BenchConfig(deployments=[dep], prompts=["Tell me about streaming."], requests=waves * conc, concurrency=conc, mode="stream",
                      warmup=1, max_tokens=100, workers=workers, retry_base_s=0.05, max_retries=0, stall_s=60, timeout_s=120)  # fmt: skip
    stats: dict[str, object] = {}
    t = time.perf_counter()
    with Store(db) as st:
        run_id = run_distributed(plan_run(cfg), st, stats=stats)
    wall = time.perf_counter() - t
    df = load_requests(db, [run_id])
    truths = {t["response_id"]: t for t in httpx2.get(f"{url}/debug/truths", params={"model": name}, timeout=60).json()["responses"]}
    errs = []
    for r in df.itertuples():
        tr = truths.get(r.response_id)
        if r.status == "ok" and tr and tr["chunk_times"]:
            errs.append(r.t0_monotonic + r.ttft_s - tr["chunk_times"][0])
    chunks = float(df["chunks"].fillna(0).sum())
    cpu = sum(w["cpu_s"] or 0.0 for w in stats["workers"].values())  # type: ignore[union-attr]
    e = np.asarray(errs) * 1000
    return {"n": len(df), "ok": int((df["status"] == "ok").sum()), "p50": float(np.percentile(e, 50)) if len(e) else float("nan"),
            "p99": float(np.percentile(e, 99)) if len(e) else float("nan"), "chunks_s": conc * PROFILE.tokens_per_s,
            "cpu_us_per_chunk": cpu / chunks * 1e6 if chunks else float("nan"), "wall": wall, "ray_init_s": float(stats["ray_init_s"])}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument("--levels", default="64,128,256,512")
    ap.add_argument("--waves", type=int, default=2)
    ap.add_argument("--max-p99-ms", type=float, default=5.0)
    args = ap.parse_args()
    handle = start_server(port=free_port())
    os.environ["STREAMING_SERVER_URL"] = handle.url  # the workers read the built-in deployment from this server
    db = os.path.join(tempfile.mkdtemp(prefix="scaleout-"), "scaleout.db")
    best: dict[int, float] = {}
    ray_init = None
    try:
        print(f"server {handle.url}; {PROFILE.ttft_ms:.0f} ms TTFT, {PROFILE.tokens_per_s:.0f} tok/s, {PROFILE.output_tokens} tokens; pass: arrival p99 ≤ {args.max_p99_ms} ms")
        print(f"{'workers':>7} {'C':>5} {'chunks/s':>9} {'n':>6} {'ok':>6} | {'arrival p50':>11} {'p99':>8} | {'client CPU/chunk':>16} | {'wall s':>6}")
        for w in [int(x) for x in args.workers.split(",")]:
            for c in [int(x) for x in args.levels.split(",")]:
                r = level(handle.url, db, w, c, args.waves)
                ray_init = r["ray_init_s"] if ray_init is None else ray_init
                ok = r["p99"] <= args.max_p99_ms and r["ok"] == r["n"]
                if ok:
                    best[w] = max(best.get(w, 0.0), r["chunks_s"])
                print(f"{w:>7} {c:>5} {r['chunks_s']:>9.0f} {r['n']:>6} {r['ok']:>6} | {r['p50']:>8.2f} ms {r['p99']:>8.2f} |"
                      f" {r['cpu_us_per_chunk']:>13.1f} µs | {r['wall']:>6.1f} {'pass' if ok else 'FAIL'}")  # fmt: skip
        print("\nhighest passing chunks/s: " + ", ".join(f"{w} worker(s) {v:,.0f}" for w, v in sorted(best.items())))
        print(f"Ray start-up (the first ray.init of a local cluster, in this process): {ray_init:.1f} s")
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
