"""Nothing lost: kill -9 the benchmark process at random points; two processes write one database at once.

Ground truth for "finished" is the server's own log of each response (``GET /debug/truths``,
stamped on CLOCK_MONOTONIC, which this process shares): every response the server finished
more than ``GRACE_S`` before the kill must be in the database. ``GRACE_S`` covers the client
reading the last bytes and the writer thread's commit (milliseconds); a request still in that
window at the kill was in flight, and may be lost. benchmarks/kill_durability.py runs 20 kills.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import http_get

from streaming.core.client import Client
from streaming.core.config import load_deployments
from streaming.core.request import LLMRequest
from streaming.store import Store, integrity_check, list_runs

ROOT = Path(__file__).resolve().parents[2]
GRACE_S = 0.25


def sim_file(tmp_path: Path) -> tuple[Path, str]:
    name = f"sim-dur-{uuid.uuid4().hex[:8]}"  # the server logs responses per model: a fresh name per test
    path = tmp_path / "deployments.toml"
    path.write_text(f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 15\ntokens_per_s = 800\noutput_tokens = 10\n')
    return path, name


def bench(deps: Path, name: str, db: Path, n: int, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "streaming", "--deployments", str(deps), "bench", "-d", name, "-n", str(n), "-c", "6",
           "--mode", "stream", "--warmup", "0", "--max-tokens", "32", "--db", str(db), "-q", *extra]  # fmt: skip
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def stored_ids(db: Path) -> set[str]:
    with sqlite3.connect(db) as c:
        return {r[0] for r in c.execute("SELECT response_id FROM requests WHERE response_id IS NOT NULL")}


def count_rows(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db, timeout=5) as c:
            return int(c.execute("SELECT COUNT(*) FROM requests").fetchone()[0])
    except sqlite3.OperationalError:  # the schema is not there yet
        return 0


@pytest.mark.slow
def test_kill_9_at_random_points_loses_no_finished_request(server, tmp_path: Path) -> None:
    deps, name = sim_file(tmp_path)
    db = tmp_path / "kill.db"
    rng = random.Random(7)
    kills = checked = 0
    for _ in range(3):
        before = count_rows(db)
        t_start = time.perf_counter()
        p = bench(deps, name, db, 2000)
        deadline = time.monotonic() + 30
        while count_rows(db) <= before and time.monotonic() < deadline:  # the run is under way (the DB is busy)
            time.sleep(0.02)
        assert p.poll() is None, p.stderr.read().decode() if p.stderr else ""
        time.sleep(rng.uniform(0.0, 0.8))  # a random point of the run
        t_kill = time.perf_counter()
        os.kill(p.pid, signal.SIGKILL)
        p.wait(10)
        kills += 1
        assert p.returncode == -signal.SIGKILL
        assert integrity_check(db) == "ok"
        truths = http_get(f"{server.url}/debug/truths", params={"model": name}, timeout=10).json()["responses"]
        mine = [t for t in truths if t["received_at"] > t_start]  # this process's requests (the earlier ones were checked)
        finished = {t["response_id"] for t in mine if t["finished_at"] is not None and t["finished_at"] < t_kill - GRACE_S}
        stored = stored_ids(db)
        checked += len(finished)
        assert finished <= stored, f"{len(finished - stored)} finished requests missing after kill {kills}"
        # what is stored is whole: every stored row finished on the server too, with its full timeline
        assert stored <= {t["response_id"] for t in truths if t["finished_at"] is not None}
        with sqlite3.connect(db) as c:
            bad = c.execute("SELECT COUNT(*) FROM requests r LEFT JOIN timeline t ON t.request_id = r.id WHERE t.request_id IS NULL OR r.status != 'ok'").fetchone()[0]
        assert bad == 0
    assert checked >= 20  # requests that finished well before a kill were there to check
    runs = list_runs(db)
    assert len(runs) == 3 and set(runs["status"]) == {"interrupted"}  # a dead run says so


@pytest.mark.slow
def test_demo_and_cli_bench_write_one_database_at_once(server, tmp_path: Path) -> None:
    deps_path, name = sim_file(tmp_path)
    db = tmp_path / "shared.db"
    Store(db).close()  # the schema exists before both start (each would also create it)
    with Client(load_deployments(deps_path), server_url=server.url) as c:
        rec = c.run(name, LLMRequest.chat("hi", max_tokens=8))
    assert rec.ok
    p1 = bench(deps_path, name, db, 300)
    p2 = bench(deps_path, name, db, 300, "--notes", "second CLI")
    errors: list[BaseException] = []
    n_demo = 300

    def demo_writer() -> None:  # what app.py's save_turn does, one committed turn at a time
        try:
            store = Store(str(db.resolve()))
            run_id = store.get_or_create_demo_run()
            for _ in range(n_demo):
                store.add_record(run_id, rec, tag="demo", pair_id=None, turn_kind="chat")
            store.close()
        except BaseException as e:
            errors.append(e)

    th = threading.Thread(target=demo_writer)
    th.start()
    outs = [p.communicate(timeout=120) for p in (p1, p2)]
    th.join(60)
    assert not errors, errors
    for p, (out, err) in zip((p1, p2), outs):
        assert p.returncode == 0, err.decode()
        assert b"locked" not in err and b"locked" not in out
    runs = list_runs(db).set_index("kind")
    with sqlite3.connect(db) as c:
        per_run = dict(c.execute("SELECT kind, COUNT(*) FROM requests r JOIN runs ON runs.id = r.run_id GROUP BY runs.id").fetchall())
        counts = sorted(n for (n,) in c.execute("SELECT COUNT(*) FROM requests GROUP BY run_id"))
    assert counts == [300, 300, 300] and per_run["demo"] == n_demo  # no row lost, in any writer
    assert set(list_runs(db)["status"]) == {"finished", "open"} and len(runs) == 3
    assert integrity_check(db) == "ok"
