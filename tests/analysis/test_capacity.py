"""Goodput and aggregate throughput (exact on a known frame, and on a real run with known SLO misses);
saturation flagged on an overloaded simulator and not on a healthy one; --stop-on-saturation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from streaming.analysis.capacity import parse_slos, run_saturation, throughput_row
from streaming.analysis.saturation import detect_saturation, spearman
from streaming.analysis.tables import format_summary, summarize
from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, Fault, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, list_runs, load_requests

ROOT = Path(__file__).resolve().parents[2]


def sim(capacity: int = 0, ttft_ms: float = 30, tps: float = 500, tokens: int = 10, faults: tuple[Fault, ...] = ()) -> Deployment:
    name = f"sim-gp-{uuid.uuid4().hex[:6]}"
    return Deployment(name=name, provider="simulated", model=name,
                      sim=SimProfile(ttft_ms=ttft_ms, tokens_per_s=tps, output_tokens=tokens, capacity=capacity, faults=faults))  # fmt: skip


def frame() -> pd.DataFrame:
    """Four requests over exactly 2 s: three ok (TTFT 0.1, 0.3, 0.2), one failed."""
    return pd.DataFrame({
        "deployment": ["d"] * 4, "temperature": [np.nan] * 4, "mode": ["stream"] * 4,
        "status": ["ok", "ok", "ok", "error"], "t0_monotonic": [10.0, 10.5, 11.0, 11.2], "e2e_s": [1.0, 1.0, 1.0, np.nan],
        "ttft_s": [0.1, 0.3, 0.2, np.nan], "output_tokens": [10, 20, 30, np.nan], "input_tokens": [5, 5, 5, np.nan],
        "tpot_s": [0.01] * 4, "tokens_per_s": [100.0] * 4, "perceived_wait_s": [0.1, 0.3, 0.2, np.nan], "retries": [0] * 4,
        "retry_wait_s": [0.0] * 4, "schedule_lag_s": [np.nan] * 4, "e2e_incl_retries_s": [np.nan] * 4, "sent_s": [0.0, 0.5, 1.0, 1.2],
    })  # fmt: skip


def test_throughput_and_goodput_exact_on_a_known_frame() -> None:
    row = throughput_row(frame(), parse_slos(["ttft_p95 <= 0.25", "error_rate <= 0.1"]))
    assert row["duration_s"] == pytest.approx(2.0)  # first send 10.0 → last end 12.0
    assert row["requests_per_s"] == pytest.approx(3 / 2) and row["output_tokens_per_s"] == pytest.approx(60 / 2)
    assert row["input_tokens_per_s"] == pytest.approx(15 / 2)
    assert row["goodput_requests_per_s"] == pytest.approx(2 / 2)  # TTFT 0.3 misses; the failure never counts
    assert row["goodput_tokens_per_s"] == pytest.approx((10 + 30) / 2) and row["slo_met"] == pytest.approx(2 / 4)
    s = summarize(frame(), parse_slos(["ttft_p95 <= 0.25"]))
    assert s.iloc[0]["goodput_requests_per_s"] == pytest.approx(1.0) and s.iloc[0]["requests_per_s"] == pytest.approx(1.5)
    text = format_summary(s)
    assert "req/s" in text and "goodput req/s" in text and "50%" in text
    assert "goodput_requests_per_s" not in summarize(frame()).columns and "requests_per_s" in summarize(frame()).columns


def test_goodput_on_a_run_with_known_slo_misses(server: ServerHandle, tmp_path: Path) -> None:
    fast = sim(faults=(Fault(kind="429", every=4, seconds=0.05),))  # every 4th request fails (no retries): 2 of 8
    slow = sim(ttft_ms=400, tokens=3)  # every request misses TTFT ≤ 0.2 s
    with Store(tmp_path / "g.db") as st:
        run = run_benchmark(BenchConfig(deployments=[fast, slow], mode="stream", requests=16, concurrency=4, warmup=0, prompts=["p"],
                                        max_retries=0, slos=["ttft_p95 <= 0.2"]), st)  # fmt: skip
    df = load_requests(tmp_path / "g.db", [run])
    s = summarize(df, parse_slos(["ttft_p95 <= 0.2"])).set_index("deployment")
    f, w = s.loc[fast.name], s.loc[slow.name]
    assert f["errors"] == 2 and f["slo_met"] == pytest.approx(6 / 8)
    assert f["requests_per_s"] > 0 and f["goodput_requests_per_s"] == pytest.approx(f["requests_per_s"])  # every success met the SLO
    assert f["goodput_tokens_per_s"] == pytest.approx(f["output_tokens_per_s"])
    assert w["requests_per_s"] > 0 and w["goodput_requests_per_s"] == 0 and w["slo_met"] == 0
    r = subprocess.run([sys.executable, "-m", "streaming", "report", run, "--db", str(tmp_path / "g.db")], capture_output=True, text=True,
                       cwd=ROOT, env=dict(os.environ), timeout=60)  # fmt: skip
    assert r.returncode == 0 and "goodput req/s" in r.stdout and "75%" in r.stdout


def test_spearman_matches_scipy_with_and_without_ties() -> None:
    from scipy import stats as sps

    rng = np.random.default_rng(7)
    x = rng.normal(size=200)
    for y in (x + rng.normal(size=200), np.round(x * 2 + rng.normal(size=200)), -np.round(x), rng.integers(0, 3, 200).astype(float)):
        assert spearman(x, y) == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    assert spearman(np.arange(5.0), np.arange(5.0) ** 3) == pytest.approx(1.0)


def test_detect_saturation_on_known_series() -> None:
    sent = np.linspace(0, 10, 100)
    rising = detect_saturation(sent, 0.1 + 0.05 * sent, sent + 0.1 + 0.05 * sent)
    assert rising.flagged and rising.sentence.startswith("saturated:")
    flat = detect_saturation(sent, np.full(100, 0.1), sent + 0.1)
    assert not flat.flagged and flat.sentence.startswith("not saturated")
    few = detect_saturation(sent[:10], np.full(10, 0.1), sent[:10])
    assert not few.flagged and "not judged" in few.sentence


def test_saturation_flagged_on_an_overloaded_simulator_not_on_a_healthy_one(server: ServerHandle, tmp_path: Path) -> None:
    # capacity 2 × (30 ms + 9 × 2 ms ≈ 48 ms per stream) ≈ 40 requests/s served: 80/s builds a queue, 30/s on capacity 8 does not
    overloaded, healthy = sim(capacity=2), sim(capacity=8)
    with Store(tmp_path / "o.db") as st:
        over = run_benchmark(BenchConfig(deployments=[overloaded], mode="stream", requests=90, rate=80.0, warmup=0, prompts=["p"]), st)
        ok = run_benchmark(BenchConfig(deployments=[healthy], mode="stream", requests=60, rate=30.0, warmup=0, prompts=["p"]), st)
        closed = run_benchmark(BenchConfig(deployments=[healthy], mode="stream", requests=60, concurrency=4, warmup=0, prompts=["p"]), st)
    runs = list_runs(tmp_path / "o.db").set_index("run_id")
    s_over = run_saturation(load_requests(tmp_path / "o.db", [over], timelines=False))
    assert s_over.flagged and s_over.wait_last_s > 3 * s_over.wait_first_s, s_over.sentence
    assert any(w.startswith("saturated:") for w in runs.loc[over, "warnings"])  # flagged by the runner too
    for run in (ok, closed):
        s = run_saturation(load_requests(tmp_path / "o.db", [run], timelines=False))
        assert not s.flagged and s.n == 60, s.sentence
        assert not any(w.startswith("saturated") for w in runs.loc[run, "warnings"])
    (tmp_path / "saturation.txt").write_text(f"overloaded: {s_over.sentence}\nhealthy: {run_saturation(load_requests(tmp_path / 'o.db', [ok])).sentence}\n")


def test_stop_on_saturation_ends_the_run_early(server: ServerHandle, tmp_path: Path) -> None:
    dep = sim(capacity=2)
    cfg = dict(deployments=[{"name": dep.name, "provider": "simulated", "ttft_ms": 30, "tokens_per_s": 500, "output_tokens": 10, "capacity": 2}],
               mode="stream", requests=400, rate=80, warmup=0, prompts=["p"], stop_on_saturation=True)  # fmt: skip
    (tmp_path / "b.toml").write_text("\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg.items() if k != "deployments")
                                     + "\n[[deployments]]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in cfg["deployments"][0].items()))  # fmt: skip
    r = subprocess.run([sys.executable, "-m", "streaming", "bench", "--config", str(tmp_path / "b.toml"), "--db", str(tmp_path / "s.db"), "--json", "-q"],
                       capture_output=True, text=True, cwd=ROOT, env=dict(os.environ), timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["status"] == "stopped" and out["saturated"] is True
    assert any("stopped on saturation" in w for w in out["warnings"])
    assert len(load_requests(tmp_path / "s.db", [out["run_id"]], timelines=False)) < 400
