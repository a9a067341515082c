"""`python -m streaming sweep` against the real built-in server: a simulated capacity of 8 is found, steps are runs, a stopped sweep keeps its steps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from streaming.analysis.capacity import parse_slos
from streaming.analysis.sweep import Step, sweep_from_runs
from streaming.bench.matrix import BenchConfig
from streaming.bench.sweep import requests_for, run_sweep
from streaming.core.config import Deployment, SimProfile
from streaming.errors import ConfigError
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests
from streaming.store.sweeps import list_sweeps, sweep_runs

ROOT = Path(__file__).resolve().parents[2]
# e2e ≈ 30 ms + 19 × 10 ms = 220 ms; beyond 8 streams a request waits for a slot, up to a whole e2e (TTFT ≈ 0.25 s).
# The SLO (0.15 s) sits 120 ms above a served request's TTFT and about 100 ms below a queued one's (the test runs alone).
CAP8 = """
[[deployments]]
name = "sim-cap8"
provider = "simulated"
ttft_ms = 30
tokens_per_s = 100
output_tokens = 20
capacity = 8
"""


def cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streaming", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ))


@pytest.mark.alone
@pytest.mark.slow
def test_sweep_on_a_simulated_capacity_of_8_finds_8(server: ServerHandle, tmp_path: Path) -> None:
    deps = tmp_path / "deployments.toml"
    deps.write_text(CAP8)
    db = tmp_path / "sweep.db"
    r = cli("--deployments", str(deps), "sweep", "-d", "sim-cap8", "--slo", "ttft_p95 <= 0.15", "--start", "4", "--max-concurrency", "32",
            "--requests-per-step", "40", "--db", str(db), "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    (tmp_path / "sweep.json").write_text(r.stdout)
    assert out["max_concurrency_within_slo"] == 8
    loads = [s["concurrency"] for s in out["steps"]]
    assert loads == sorted(loads) and 8 in loads and 9 in loads  # doubled to a break, then bisected down to 9
    by_load = {s["concurrency"]: s for s in out["steps"]}
    assert by_load[8]["holds"] and not by_load[9]["holds"]
    assert by_load[8]["slos"]["ttft_p95"]["value"] < 0.15 < by_load[16]["slos"]["ttft_p95"]["value"]
    for s in out["steps"]:  # every step: n, SLO metric with its CI, throughput and goodput
        assert s["n"] == 40 and s["slos"]["ttft_p95"]["ci_low"] <= s["slos"]["ttft_p95"]["value"] <= s["slos"]["ttft_p95"]["ci_high"]
        assert s["requests_per_s"] > 0 and s["output_tokens_per_s"] > 0 and s["goodput_requests_per_s"] <= s["requests_per_s"]
    # throughput stops rising at the capacity while latency keeps rising
    assert out["saturated_at"] == 8
    assert by_load[16]["requests_per_s"] < 1.15 * by_load[8]["requests_per_s"] and by_load[4]["requests_per_s"] < 0.7 * by_load[8]["requests_per_s"]
    assert isinstance(out["client_limited"], bool) and set(out["edge"]) == {"certain", "sentence"}
    assert out["headline"].startswith("holds 8 concurrent streams at TTFT p95 ≤ 0.15 s")
    # each step is a run in the database, linked as one sweep
    sweeps = list_sweeps(db)
    assert list(sweeps["sweep_id"]) == [out["sweep_id"]] and sweeps.iloc[0]["steps"] == len(out["steps"])
    runs, configs = sweep_runs(db, out["sweep_id"])
    assert sorted(runs["run_id"]) == sorted(s["run_id"] for s in out["steps"])
    rebuilt = sweep_from_runs(load_requests(db, list(runs["run_id"]), timelines=False), runs, configs).to_dict()
    assert rebuilt["max_concurrency_within_slo"] == 8 and rebuilt["saturated_at"] == 8


def test_a_stopped_sweep_keeps_its_finished_steps(server: ServerHandle, tmp_path: Path) -> None:
    name = f"sim-stop-{uuid.uuid4().hex[:6]}"
    dep = Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=20, tokens_per_s=500, output_tokens=5, capacity=4))
    stop = threading.Event()
    seen: list[Step] = []

    def on_step(s: Step) -> None:
        seen.append(s)
        if len(seen) == 2:
            stop.set()

    with Store(tmp_path / "s.db") as db:
        res = run_sweep(BenchConfig(deployments=[dep], mode="stream", warmup=0, prompts=["p"]), db, ["ttft_p95 <= 0.5"], "concurrency", 64,
                        1, 20, stop, on_step)  # fmt: skip
    assert res.stopped and [s.load for s in res.steps] == [1, 2]
    runs, _ = sweep_runs(tmp_path / "s.db", res.sweep_id)
    assert len(runs) == 2 and set(runs["status"]) == {"finished"}
    assert res.to_dict()["stopped"] is True


def test_requests_per_step_default_and_bad_input(tmp_path: Path) -> None:
    assert requests_for(parse_slos(["ttft_p95 <= 0.5"])) == 400
    assert requests_for(parse_slos(["ttft_p99 <= 1", "e2e_p50 <= 2"])) == 2000
    assert requests_for(parse_slos(["error_rate <= 0.01"])) == 20
    with Store(tmp_path / "x.db") as db, pytest.raises(ConfigError, match="at least one --slo"):
        run_sweep(BenchConfig(), db, [])
    with pytest.raises(ConfigError, match="unknown metric 'ttft_p96'"):
        parse_slos(["ttft_p96 <= 1"])
    r = cli("sweep", "-d", "sim-fast", "--slo", "ttft < banana", "--db", str(tmp_path / "y.db"))
    assert r.returncode == 2 and "--slo 'ttft < banana': write it as METRIC OP NUMBER" in r.stderr and "Traceback" not in r.stderr
