"""How close is the Benchmark page's duration estimate to the real duration? Prints estimate, actual and their ratio.

    python benchmarks/preview_accuracy.py                       # sim-fast and sim-slow, 40 requests, concurrency 4
    python benchmarks/preview_accuracy.py --requests 80 --concurrency 8

Runs real benchmarks on the built-in server (simulated deployments) and times them end to end
(warmup included, as the estimate does). On a loaded machine the ratio moves: compare within one run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming import Store, run_benchmark  # noqa: E402
from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.bench.preview import preview  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--deployment", action="append", default=None)
    args = ap.parse_args()
    server = start_server(port=free_port())  # our own server (not one another process runs on 8765)
    os.environ["STREAMING_SERVER_URL"] = server.url
    print(f"server {server.url}")
    print(f"{'deployment':<12} {'requests':>8} {'estimate s':>11} {'actual s':>9} {'actual/estimate':>16}")
    for dep in args.deployment or ["sim-fast", "sim-slow"]:
        cfg = BenchConfig(deployments=[dep], requests=args.requests, concurrency=args.concurrency, warmup=1, max_tokens=64)
        est = preview(cfg)
        with tempfile.TemporaryDirectory() as tmp, Store(str(Path(tmp) / "p.db")) as db:
            t = time.perf_counter()
            run_benchmark(cfg, db)
            actual = time.perf_counter() - t
        assert est.estimate_s is not None
        print(f"{dep:<12} {est.requests:>8} {est.estimate_s:>11.2f} {actual:>9.2f} {actual / est.estimate_s:>16.2f}")
    server.stop()


if __name__ == "__main__":
    main()
