"""How long from a crash of the local model's worker to the next successful ``local`` token.

Each round streams an answer from ``local``, sends SIGSEGV to the worker after the third
delta (what a faulting AMX instruction delivers), checks that the record says
``model_crashed``, then at once sends the next request and times the kill → its first
token. Rounds are spaced more than a minute apart in crash terms: a successful answer
between crashes resets the crash count, so the worker is never disabled here.

    python benchmarks/crash_recovery.py --rounds 5
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import httpx2  # noqa: E402

from streaming.core.client import Client  # noqa: E402
from streaming.core.config import BUILTINS  # noqa: E402
from streaming.core.request import LLMRequest
from streaming.server.launcher import free_port, start_server, warm_local  # noqa: E402


def worker_pid(url: str) -> int:
    while (pid := httpx2.get(f"{url}/health").json()["local_worker_pid"]) is None:
        time.sleep(0.02)
    return int(pid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    handle = start_server(port=free_port())
    try:
        warm_local(handle.url)
        gaps, restarts = [], []
        with Client(list(BUILTINS), server_url=handle.url) as c:
            for i in range(args.rounds):
                pid = worker_pid(handle.url)
                with c.stream("local", LLMRequest.chat("Write a long story about the sea.", max_tokens=300)) as s:
                    for k, _ in enumerate(s):
                        if k == 2:
                            os.kill(pid, signal.SIGSEGV)
                            t_kill = time.perf_counter()
                assert s.record.error_type == "model_crashed", s.record.error
                nxt = c.stream("local", LLMRequest.chat("What is cloud computing?", max_tokens=8, temperature=0.0))
                with nxt:
                    for _ in nxt:
                        t_first = time.perf_counter()
                        break
                assert nxt.record.ttft_s is not None
                gaps.append(t_first - t_kill)
                h = httpx2.get(f"{handle.url}/health").json()
                restarts.append(h["local_worker_restarts"])
                print(f"round {i + 1}: crash → next token {gaps[-1] * 1000:.0f} ms (that request's TTFT {nxt.record.ttft_s * 1000:.0f} ms), "
                      f"worker restarts so far {restarts[-1]}")  # fmt: skip
                c.run("local", LLMRequest.chat("Hi", max_tokens=2))  # a success between crashes
        print(f"\ncrash → next successful local token: median {statistics.median(gaps) * 1000:.0f} ms, "
              f"max {max(gaps) * 1000:.0f} ms over {len(gaps)} crashes")  # fmt: skip
    finally:
        handle.stop()


if __name__ == "__main__":
    main()
