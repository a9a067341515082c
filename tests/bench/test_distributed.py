"""Scale-out on a real local Ray cluster (one per session): 2 worker processes against the built-in simulator."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ALONE_GROUP, http_get

from streaming.bench.matrix import BenchConfig, expand, resolve_prompts
from streaming.bench.progress import Progress
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.store import Store, list_runs, load_requests

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group(ALONE_GROUP)]  # a local Ray cluster and real worker processes (one cluster: one worker runs them)


def sim(name: str, **kw: Any) -> Deployment:
    profile = {"ttft_ms": 40, "tokens_per_s": 400, "output_tokens": 8, **kw}
    return Deployment(name=name, provider="simulated", model=name, sim=SimProfile(**profile))


def run(tmp_path: Path, cfg: BenchConfig, progress: Any = None, stop: threading.Event | None = None) -> tuple[str, Any]:
    db = tmp_path / "dist.db"
    with Store(db) as st:
        run_id = run_benchmark(cfg, st, progress, stop)
    return run_id, load_requests(db, [run_id], include_warmup=True)


@pytest.mark.alone
def test_two_workers_run_exactly_the_matrix_and_match_the_server_truth(ray_cluster: Any, server: Any, tmp_path: Path) -> None:
    cfg = BenchConfig(deployments=[sim("sim-dist-a"), sim("sim-dist-b")], prompts=["p1", "p2", "p3"], repeats=2, concurrency=4,
                      warmup=1, workers=2)  # fmt: skip
    run_id, df = run(tmp_path, cfg)
    measured = df[~df["warmup"]]
    assert len(measured) == 2 * 2 * 3 * 2 and sorted(measured["seq"]) == list(range(24))  # deployments × modes × prompts × repeats
    assert (measured["status"] == "ok").all()
    cells = measured.groupby(["deployment", "mode"]).size()
    assert cells.eq(6).all() and len(cells) == 4  # every cell asked every prompt twice
    assert measured.groupby("pair_id")["mode"].nunique().eq(2).all()  # stream/non-stream twins kept
    assert set(df["worker"]) == {"w0", "w1"} and df["host"].notna().all()
    assert set(measured[measured["worker"] == "w0"]["seq"]) == set(range(0, 24, 2))  # dealt round-robin, in the global order
    assert df["warmup"].sum() == 2 * 2  # each worker warms up each deployment
    for _, row in measured[measured["mode"] == "stream"].iterrows():
        t = http_get(f"{server.url}/debug/truth/{row['response_id']}").json()
        assert abs(row["t0_monotonic"] + row["ttft_s"] - t["chunk_times"][0]) < 0.05  # one machine: one monotonic clock
    info = list_runs(tmp_path / "dist.db").iloc[0]
    assert info["status"] == "finished" and info["n_requests"] == 24


@pytest.mark.alone
def test_open_loop_interleaves_one_global_poisson_schedule(ray_cluster: Any, tmp_path: Path) -> None:
    cfg = BenchConfig(deployments=[sim("sim-dist-rate")], prompts=["p"], requests=30, rate=40.0, mode="stream", warmup=0, workers=2, seed=3)
    run_id, df = run(tmp_path, cfg)
    expected = {it.seq: it.scheduled_s for it in expand(cfg, resolve_prompts(cfg), ["sim-dist-rate"])}
    assert len(df) == 30 and all(np.isclose(r.scheduled_s, expected[r.seq]) for r in df.itertuples())
    assert set(df[df["worker"] == "w1"]["seq"]) == set(range(1, 30, 2))
    lag = (df["sent_s"] - df["scheduled_s"]).to_numpy()
    assert np.all(lag > -0.005) and np.median(lag) < 0.05  # both workers follow one schedule from one start instant


def test_killing_a_worker_keeps_what_it_finished_and_names_it(ray_cluster: Any, tmp_path: Path) -> None:
    ray = ray_cluster
    killed: dict[str, int] = {}

    def progress(p: Progress) -> None:
        if not killed and p.done >= 6:
            actor = ray.get_actor(f"bench-{p.run_id}-w1")
            pid = ray.get(actor.info.remote())["pid"]
            os.kill(pid, signal.SIGKILL)
            killed["pid"] = pid

    cfg = BenchConfig(deployments=[sim("sim-dist-kill", ttft_ms=60, tokens_per_s=100, output_tokens=10)], prompts=["p"], requests=40,
                      concurrency=2, mode="stream", warmup=0, workers=2)  # fmt: skip
    run_id, df = run(tmp_path, cfg, progress)
    assert killed
    w0, w1 = df[df["worker"] == "w0"], df[df["worker"] == "w1"]
    assert len(w0) == 20 and (w0["status"] == "ok").all()  # the other worker finished its whole share
    assert 0 < len(w1) < 20 and (w1["status"] == "ok").all()  # what the killed one had handed over is kept
    info = list_runs(tmp_path / "dist.db").iloc[0]
    assert any(w.startswith("worker w1 died") and f"{len(w1)} finished request(s) are kept" in w for w in info["warnings"]), info["warnings"]


def test_stop_reaches_every_worker(ray_cluster: Any, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.done >= 8:
            stop.set()

    cfg = BenchConfig(deployments=[sim("sim-dist-stop", ttft_ms=50, tokens_per_s=50, output_tokens=10)], prompts=["p"], requests=200,
                      concurrency=4, mode="stream", warmup=0, workers=2)  # fmt: skip
    run_id, df = run(tmp_path, cfg, progress, stop)
    assert 8 <= len(df) < 60 and set(df["worker"]) == {"w0", "w1"}
    assert list_runs(tmp_path / "dist.db").iloc[0]["status"] == "stopped"


def test_cli_bench_with_workers(ray_cluster: Any, server: Any, tmp_path: Path) -> None:
    """``python -m streaming bench --workers 2 --ray-address`` end to end in its own process, joining the session's cluster
    (a local cluster's own start is what ``ray_cluster`` does: ``connect(None)``)."""
    import subprocess
    import sys

    import orjson

    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, STREAMING_SERVER_URL=server.url)
    env.pop("RAY_ADDRESS", None)
    p = subprocess.run([sys.executable, "-m", "streaming", "bench", "-d", "sim-fast", "-n", "8", "--warmup", "0", "--workers", "2",
                        "--db", str(tmp_path / "cli.db"), "--json", "-q", "--ray-address", ray_cluster.get_runtime_context().gcs_address], capture_output=True, text=True, cwd=root, env=env, timeout=180)  # fmt: skip
    assert p.returncode == 0, p.stderr[-2000:]
    out = orjson.loads(p.stdout)
    rows = out["summary"] if isinstance(out, dict) else out
    assert sum(r["n"] for r in rows) == 8
    df = load_requests(tmp_path / "cli.db")
    assert set(df["worker"]) == {"w0", "w1"}


def test_sweep_runs_its_steps_on_workers(ray_cluster: Any, server: Any, tmp_path: Path) -> None:
    """``sweep --workers 2 --ray-address``: a second process joins the session's running cluster; every step's requests come from both workers."""
    import subprocess
    import sys

    import orjson

    deps = tmp_path / "deployments.toml"
    deps.write_text('[[deployments]]\nname = "sim-dist-sweep"\nprovider = "simulated"\nttft_ms = 30\ntokens_per_s = 400\noutput_tokens = 6\ncapacity = 2\n')
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, STREAMING_SERVER_URL=server.url)
    env.pop("RAY_ADDRESS", None)
    p = subprocess.run([sys.executable, "-m", "streaming", "--deployments", str(deps), "sweep", "-d", "sim-dist-sweep", "--slo", "ttft_p95 <= 0.3",
                        "--start", "1", "--max-concurrency", "2", "--requests-per-step", "8", "--workers", "2", "--db", str(tmp_path / "s.db"),
                        "--ray-address", ray_cluster.get_runtime_context().gcs_address,
                        "--json", "-q"], capture_output=True, text=True, cwd=root, env=env, timeout=300)  # fmt: skip
    assert p.returncode in (0, 1), p.stderr[-2000:]
    out = orjson.loads(p.stdout)
    assert out["steps"] and out["max_concurrency_within_slo"] is not None
    df = load_requests(tmp_path / "s.db")
    assert set(df["worker"]) == {"w0", "w1"} and len(df) == 8 * len(out["steps"])
