"""How long the cost guard's estimate takes before a run: 5,000 and 100,000 requests on one keyed deployment.

    python benchmarks/cost_estimate.py

Prints the median of 5 timings per size (the first call also loads the tokenizer: printed apart).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.bench.guard import estimate_run
from streaming.bench.matrix import BenchConfig


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        deps = Path(d) / "deployments.toml"
        deps.write_text('[[deployments]]\nname = "paid"\nprovider = "compatible"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n'
                        'api_key_env = "K"\nprice_in_per_1m = 2.5\nprice_out_per_1m = 10\n')  # fmt: skip
        t0 = time.perf_counter()
        estimate_run(BenchConfig(deployments=["paid"], requests=10, deployments_file=str(deps), prompt_set="mixed"))
        print(f"first estimate (loads the o200k tokenizer): {(time.perf_counter() - t0) * 1000:.0f} ms")
        for n in (5_000, 100_000):
            cfg = BenchConfig(deployments=["paid"], requests=n, deployments_file=str(deps), prompt_set="mixed")
            times = []
            for _ in range(5):
                t = time.perf_counter()
                est = estimate_run(cfg)
                times.append(time.perf_counter() - t)
            print(f"{n:>7,} requests: median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}); {est.sentence()}")


if __name__ == "__main__":
    main()
