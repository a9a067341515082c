"""How late does the built-in server write a simulated stream's chunks under load? Its own truth, gap by gap.

A simulated deployment writes a chunk every 20 ms (50 tok/s, no jitter). At ``--concurrency`` streams
(``--requests`` in all, per round), every gap the server wrote is compared with 20 ms: the slip is what the
event loop (and the garbage collector) added. A stall of all streams at once shows as many gaps over 50 ms
in one round. The server freezes its start-up objects out of the collector (``gc.freeze``) so that full
collections under load stay short.

    python benchmarks/server_schedule_slip.py                 # C = 256, 768 requests, 4 rounds
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import httpx2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.core.client import AsyncClient  # noqa: E402
from streaming.core.config import Deployment, SimProfile  # noqa: E402
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402

DEP = Deployment(name="sim-slip", provider="simulated", model="sim-slip", sim=SimProfile(ttft_ms=200, tokens_per_s=50, output_tokens=100))


async def round_(url: str, concurrency: int, n: int) -> list:
    async with AsyncClient([DEP], server_url=url, max_connections=concurrency, retry=RetryPolicy(max_retries=0),
                           timeouts=Timeouts(stall_s=30)) as c:  # fmt: skip
        sem = asyncio.Semaphore(concurrency)

        async def one(i: int):
            async with sem:
                return await c.run(DEP, LLMRequest.chat(f"request {i}", max_tokens=100))

        return await asyncio.gather(*(one(i) for i in range(n)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--concurrency", type=int, default=256)
    ap.add_argument("--requests", type=int, default=768)
    ap.add_argument("--rounds", type=int, default=4)
    a = ap.parse_args()
    handle = start_server(port=free_port())
    try:
        print("| round | gaps | slip p50 (ms) | p99 | p99.9 | max | gaps over 50 ms |\n|---|---|---|---|---|---|---|")
        for k in range(a.rounds):
            recs = asyncio.run(round_(handle.url, a.concurrency, a.requests))
            slips: list[float] = []
            with httpx2.Client(timeout=30) as h:
                for r in recs:
                    if r.ok:
                        slips.extend((np.diff(h.get(f"{handle.url}/debug/truth/{r.response_id}").json()["chunk_times"]) - 0.02).tolist())
            s = np.asarray(slips) * 1e3
            print(f"| {k + 1} | {len(s)} | {np.percentile(s, 50):.2f} | {np.percentile(s, 99):.2f} | {np.percentile(s, 99.9):.2f} | {s.max():.1f} | {(s > 50).sum()} |")
    finally:
        handle.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
