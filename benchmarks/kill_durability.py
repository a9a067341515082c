"""kill -9 the benchmark CLI at random points, 20 times, on one database: is every finished request there?

    python benchmarks/kill_durability.py               # 20 kills
    python benchmarks/kill_durability.py --kills 5 --seed 1

Each round starts ``python -m streaming bench`` (a simulated deployment, closed loop at
concurrency 6, rows committed as requests finish) on the same database, waits until it is
writing, sleeps a random 0-1.5 s, and sends SIGKILL. Then, against the server's own log of
every response (``GET /debug/truths``, CLOCK_MONOTONIC shared with this process):

    finished    responses of this round the server had finished before the kill
    stored      rows of this round in the database
    missing     finished more than --grace seconds before the kill, yet not stored (must be 0)
    in flight   finished less than --grace before the kill and not stored: the client had not yet
                read the last bytes or committed; the youngest-lost age shows how wide that window was
    integrity   PRAGMA integrity_check after the kill
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from streaming.server.launcher import free_port, start_server  # noqa: E402
from streaming.store import integrity_check, list_runs  # noqa: E402


def rows(db: Path) -> int:
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--grace", type=float, default=0.25, help="seconds between the server's last byte and the commit allowed to be in flight")
    ap.add_argument("--max-delay", type=float, default=1.5, help="the kill comes 0..this many seconds after the run starts writing")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kill-durability-"))
    server = start_server(port=free_port(), log_dir=str(work))
    name = f"sim-kill-{uuid.uuid4().hex[:6]}"
    deps = work / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 15\ntokens_per_s = 800\noutput_tokens = 10\n')
    db = work / "kill.db"
    env = dict(os.environ, STREAMING_SERVER_URL=server.url)
    rng = random.Random(args.seed)
    print(f"{'kill':>4} {'delay s':>7} {'finished':>8} {'stored':>6} {'missing':>7} {'in flight':>9} {'youngest lost ms':>16} {'integrity':>9}")
    total_missing = total_finished = total_stored = 0
    all_ok = True
    try:
        for k in range(1, args.kills + 1):
            before = rows(db)
            t_start = time.perf_counter()
            cmd = [sys.executable, "-m", "streaming", "--deployments", str(deps), "bench", "-d", name, "-n", "100000", "-c", "6",
                   "--mode", "stream", "--warmup", "0", "--max-tokens", "32", "--db", str(db), "-q"]  # fmt: skip
            p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + 30
            while rows(db) <= before and time.monotonic() < deadline and p.poll() is None:
                time.sleep(0.01)
            delay = rng.uniform(0.0, args.max_delay)
            time.sleep(delay)
            t_kill = time.perf_counter()
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)
            integrity = integrity_check(db)
            truths = httpx2.get(f"{server.url}/debug/truths", params={"model": name}, timeout=10).json()["responses"]
            mine = [t for t in truths if t["received_at"] > t_start]
            done = {t["response_id"]: t["finished_at"] for t in mine if t["finished_at"] is not None and t["finished_at"] < t_kill}
            with sqlite3.connect(db) as c:
                stored = {r[0] for r in c.execute("SELECT response_id FROM requests")} & {t["response_id"] for t in mine}
            lost = {rid: t_kill - f for rid, f in done.items() if rid not in stored}
            missing = sum(1 for age in lost.values() if age > args.grace)
            in_flight = len(lost) - missing
            youngest = f"{max(lost.values()) * 1000:.0f}" if lost else "-"
            print(f"{k:>4} {delay:>7.2f} {len(done):>8} {len(stored):>6} {missing:>7} {in_flight:>9} {youngest:>16} {integrity:>9}", flush=True)
            total_missing += missing
            total_finished += len(done)
            total_stored += len(stored)
            all_ok &= integrity == "ok"
        runs = list_runs(db)
    finally:
        server.stop()
    print(f"\n{args.kills} kills: {total_finished} requests finished before a kill, {total_stored} stored, {total_missing} missing "
          f"(finished > {args.grace:g} s before the kill but not stored); integrity_check {'ok every time' if all_ok else 'FAILED'}; "
          f"runs shown as interrupted: {(runs['status'] == 'interrupted').sum()}/{len(runs)}; database {db}")  # fmt: skip
    return 0 if total_missing == 0 and all_ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
