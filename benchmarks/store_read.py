"""How long does reading a big run into pandas take? Target: 100,000 requests in ≤ 1 s.

    python benchmarks/store_read.py                 # 100,000 requests, 100 chunks each
    python benchmarks/store_read.py --requests 20000 --chunks 50 --db /tmp/x.db

Writes synthetic records (one transaction per 5,000, not per request: this measures reading),
then times ``store.load_requests`` (best of --repeat) with and without the token timelines.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from streaming.core.record import StreamRecord  # noqa: E402
from streaming.store import Store, load_requests  # noqa: E402


def synthetic(i: int, chunks: int, rng: random.Random) -> StreamRecord:
    stream = i % 2 == 0
    ttft = 0.2 + rng.random() * 0.05
    times = [ttft + k * 0.01 for k in range(chunks)] if stream else []
    return StreamRecord(
        deployment="sim-fast", provider="simulated", model="sim-fast", stream=stream, temperature=0.7, max_tokens=128,
        finish_reason="stop", response_id=f"chatcmpl-{i:024d}", request_id=f"chatcmpl-{i:024d}", started_at="2026-01-01T00:00:00.000Z",
        http_status=200, t_headers_s=0.002, t_first_event_s=0.003, ttft_s=ttft if stream else None,
        t_last_token_s=times[-1] if times else None, e2e_s=(times[-1] if times else 1.2) + 0.001, output_tokens=chunks,
        tokens_source="usage", input_tokens=12, chunks=chunks if stream else 1, events=chunks + 3,
        text="word " * chunks, chunk_times_s=times, chunk_chars=[5] * len(times), t0_monotonic=1000.0 + i,
    )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=100_000)
    ap.add_argument("--chunks", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--db", help="database file (default: a temporary one, deleted after)")
    args = ap.parse_args()
    tmp = None
    if args.db is None:
        tmp = tempfile.mkdtemp()
        args.db = os.path.join(tmp, "store_read.db")
    rng = random.Random(0)
    t = time.perf_counter()
    with Store(args.db) as st:
        run = st.create_run("bench", {"synthetic": True})
        batch = 5000
        for start in range(0, args.requests, batch):
            n = min(batch, args.requests - start)
            st.add_records(run, ((synthetic(start + k, args.chunks, rng), {"seq": start + k, "prompt_id": f"p{(start + k) % 24}",
                                  "prompt_size": "short"}) for k in range(n)))  # fmt: skip
        st.finish_run(run)
    print(f"wrote {args.requests:,} requests ({args.chunks} chunks each) in {time.perf_counter() - t:.1f} s; "
          f"file {os.path.getsize(args.db) / 1e6:.0f} MB")  # fmt: skip
    for timelines in (True, False):
        best = float("inf")
        for _ in range(args.repeat):
            t = time.perf_counter()
            df = load_requests(args.db, [run], timelines=timelines)
            best = min(best, time.perf_counter() - t)
        assert len(df) == args.requests
        label = "with timelines (chunk_times_s, itl_s)" if timelines else "without timelines"
        verdict = "OK" if best <= 1.0 else "over target"
        print(f"load_requests {label}: best of {args.repeat}: {best:.3f} s for {len(df):,} rows x {df.shape[1]} columns "
              f"(target <= 1 s: {verdict})")  # fmt: skip
    if tmp:
        for f in Path(tmp).iterdir():
            f.unlink()
        os.rmdir(tmp)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
