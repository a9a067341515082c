"""How close is a replay to its recording? Records a real run on a simulated deployment, replays it, compares.

Recording: ``--prompts`` distinct prompts on ``--deployment`` (default sim-slow: about 800 ms TTFT,
25 tokens/s, jitter 0.1), streamed at ``--concurrency``. Replay: the same prompts on a
``provider = "replay"`` deployment of that run, through the benchmark runner, at each
``--levels`` concurrency. Each replayed request is matched to the answer it played (the server's
``/debug/truth/{id}`` says which recorded row), then, in ms:

- TTFT error = replayed TTFT − recorded TTFT (one per request)
- gap error  = each replayed inter-chunk gap − the recorded gap at the same place

    python benchmarks/replay_accuracy.py                  # C = 1, 4, 16
    python benchmarks/replay_accuracy.py --levels 1,32 --prompts 32
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import httpx2
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.bench.matrix import BenchConfig  # noqa: E402
from streaming.bench.runner import run_benchmark  # noqa: E402
from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import Store, load_requests  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--deployment", default="sim-slow")
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=24)
    ap.add_argument("--concurrency", type=int, default=4, help="of the recording")
    ap.add_argument("--levels", default="1,4,16", help="replay concurrencies")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="replay-accuracy-"))
    server = start_server(port=free_port(), log_dir=str(tmp))
    os.environ["STREAMING_SERVER_URL"] = server.url
    prompts = [f"Question {i}: why does the time to the first token matter for {w}?" for i, w in
               zip(range(a.prompts), ["chat", "search", "agents", "voice", "code", "support", "docs", "games"] * 99)]  # fmt: skip
    db = tmp / "results.db"
    try:
        with Store(db) as st:
            run = run_benchmark(BenchConfig(deployments=[a.deployment], prompts=prompts, mode="stream", max_tokens=a.max_tokens,
                                            concurrency=a.concurrency, warmup=0), st)  # fmt: skip
        (tmp / "deployments.toml").write_text(f'[[deployments]]\nname = "replay"\nprovider = "replay"\nrun = "{run}"\ndb = "{db}"\n')
        rec = load_requests(db, [run]).set_index("request_key")
        print(f"recorded {len(rec)} answers on {a.deployment} (run {run}); median TTFT {rec['ttft_s'].median() * 1e3:.0f} ms\n")
        print("| replay C | n | TTFT error p50 / p99 / max (ms) | gap error p50 / p99 (ms) | |TTFT error| median (ms) |")
        print("|---|---|---|---|---|")
        for c in [int(x) for x in a.levels.split(",")]:
            with Store(db) as st:
                out_run = run_benchmark(BenchConfig(deployments=["replay"], deployments_file=str(tmp / "deployments.toml"), prompts=prompts,
                                                    mode="stream", max_tokens=a.max_tokens, concurrency=c, warmup=1), st)  # fmt: skip
            out = load_requests(db, [out_run])
            ttft, gaps = [], []
            for row in out.itertuples():
                if row.status != "ok":
                    continue
                played = httpx2.get(f"{server.url}/debug/truth/{row.response_id}").json()["replayed"]
                orig = rec.loc[played]
                ttft.append((row.ttft_s - orig["ttft_s"]) * 1e3)
                n = min(len(row.itl_s), len(orig["itl_s"]))
                gaps.extend(((np.asarray(row.itl_s[:n]) - np.asarray(orig["itl_s"][:n])) * 1e3).tolist())
            t, g = np.asarray(ttft), np.asarray(gaps)
            print(f"| {c} | {len(t)} | {np.median(t):.2f} / {np.percentile(t, 99):.2f} / {t.max():.2f} | "
                  f"{np.median(g):.2f} / {np.percentile(g, 99):.2f} | {np.median(np.abs(t)):.2f} |")  # fmt: skip
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
