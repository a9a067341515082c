"""Does the client's event-loop lag touch its timestamps? Lag (measured as the benchmark runner measures it) vs the
error of each content chunk's stamp against the built-in server's truth (same CLOCK_MONOTONIC).

Disturbances, each for one run of N streams at concurrency C against a simulated deployment:

- ``none``: nothing else runs;
- ``gil``: a Python thread spinning in pure Python (what a Streamlit page rebuilding a figure does to the GIL);
- ``block-X``: the loop itself blocked for X ms every 50 ms (CPU work on the loop: parsing, gc).

    python benchmarks/loop_lag_vs_error.py                              # C=8, 80 streams per disturbance
    python benchmarks/loop_lag_vs_error.py --concurrency 64 --streams 256
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time

import httpx2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.bench.runner import LAG_INTERVAL_S  # noqa: E402
from streaming.core.client import AsyncClient  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402

PROFILE = SimProfile(ttft_ms=100, tokens_per_s=50, jitter=0.0, output_tokens=30)
DEP = Deployment(name="sim-lag", provider="simulated", model="sim-lag", sim=PROFILE)


async def run(url: str, concurrency: int, total: int, block_ms: float) -> tuple[list, list[float]]:
    lags: list[float] = []
    done = asyncio.Event()

    async def monitor() -> None:  # the runner's own measurement
        while not done.is_set():
            t = time.perf_counter()
            await asyncio.sleep(LAG_INTERVAL_S)
            lags.append(max(0.0, time.perf_counter() - t - LAG_INTERVAL_S))

    async def blocker() -> None:
        while not done.is_set():
            await asyncio.sleep(0.05)
            end = time.perf_counter() + block_ms / 1000
            while time.perf_counter() < end:
                pass

    async with AsyncClient([DEP], server_url=url, max_connections=concurrency, retry=RetryPolicy(max_retries=0), transport="wire",
                           timeouts=Timeouts(stall_s=30)) as c:  # fmt: skip
        await asyncio.gather(*(c.run(DEP, LLMRequest.chat("warm", max_tokens=1)) for _ in range(concurrency)))
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int):
            async with sem:
                return await c.run(DEP, LLMRequest.chat(f"request {i}", max_tokens=30, seed=i))

        tasks = [asyncio.create_task(monitor())] + ([asyncio.create_task(blocker())] if block_ms else [])
        recs = await asyncio.gather(*(one(i) for i in range(total)))
        done.set()
        await asyncio.gather(*tasks)
    return recs, lags


def spin(stop: threading.Event) -> None:
    x = 0
    while not stop.is_set():
        for i in range(1000):
            x += i * i


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--streams", type=int, default=80)
    ap.add_argument("--disturbances", default="none,gil,block-2,block-5,block-10,block-20")
    args = ap.parse_args()
    handle = start_server(port=free_port())
    try:
        print(f"C={args.concurrency}, {args.streams} streams each; profile {PROFILE.ttft_ms:.0f} ms TTFT, {PROFILE.tokens_per_s:.0f} tok/s, "
              f"{PROFILE.output_tokens} tokens; errors are client stamp − server write, per content chunk")  # fmt: skip
        print(f"{'disturbance':>12} | {'lag p50':>7} {'p99':>6} {'max':>6} ms | {'stamp err p50':>13} {'p99':>6} {'max':>6} ms | {'TTFT err p50':>12} {'p99':>6} ms")
        for d in args.disturbances.split(","):
            stop = threading.Event()
            th = None
            if d == "gil":
                th = threading.Thread(target=spin, args=(stop,), daemon=True)
                th.start()
            block = float(d.split("-")[1]) if d.startswith("block-") else 0.0
            try:
                recs, lags = asyncio.run(run(handle.url, args.concurrency, args.streams, block))
            finally:
                stop.set()
                if th:
                    th.join()
            stamp, ttft = [], []
            with httpx2.Client(timeout=30) as h:
                for r in recs:
                    if not r.ok:
                        continue
                    tr = h.get(f"{handle.url}/debug/truth/{r.response_id}").json()
                    client_abs = [r.t0_monotonic + x for x in r.chunk_times_s]
                    if len(tr["chunk_times"]) != len(client_abs):
                        continue
                    stamp.extend(c - s for c, s in zip(client_abs, tr["chunk_times"]))
                    ttft.append(r.ttft_s - (tr["chunk_times"][0] - tr["received_at"]))
            lag = np.asarray(lags) * 1000
            st, tt = np.asarray(stamp) * 1000, np.asarray(ttft) * 1000
            print(f"{d:>12} | {np.percentile(lag, 50):>7.2f} {np.percentile(lag, 99):>6.2f} {lag.max():>6.1f}    | {np.percentile(st, 50):>13.2f} "
                  f"{np.percentile(st, 99):>6.2f} {st.max():>6.1f}    | {np.percentile(tt, 50):>12.2f} {np.percentile(tt, 99):>6.2f}")  # fmt: skip
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
