"""Throughput across Ray workers whose monotonic clocks have different epochs: each worker's wall-clock anchor puts them on one clock."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pytest

from streaming.analysis.capacity import throughput_row
from streaming.analysis.spans import span_of
from streaming.bench.plan import plan_run
from streaming.bench.distributed import run_distributed
from streaming.bench.matrix import BenchConfig
from streaming.core.config import Deployment, SimProfile
from streaming.store import Store, load_requests

SKEW_S = 1000.0  # worker w1's clock reads this much ahead, as another host's monotonic clock would


@pytest.fixture(scope="session")
def ray_cluster(server: Any) -> Any:
    """A local Ray cluster for the session (``connect`` reuses one already running)."""
    from streaming.bench.distributed import connect

    ray = connect(None)
    yield ray
    ray.shutdown()


def test_two_workers_with_offset_clocks_give_the_single_clock_throughput(ray_cluster: Any, server: Any, tmp_path: Path) -> None:
    dep = Deployment(name="sim-skew", provider="simulated", model="sim-skew", sim=SimProfile(ttft_ms=40, tokens_per_s=400, output_tokens=8))
    cfg = BenchConfig(deployments=[dep], prompts=["p1", "p2", "p3"], repeats=4, concurrency=4, warmup=0, workers=2)
    skew = {"w0": 0.0, "w1": SKEW_S}
    with Store(tmp_path / "skew.db") as st:
        run_id = run_distributed(plan_run(cfg), st, clocks=[time.perf_counter, lambda: time.perf_counter() + SKEW_S])
    df = load_requests(tmp_path / "skew.db", [run_id])
    assert len(df) == 24 and (df["status"] == "ok").all() and set(df["worker"]) == {"w0", "w1"}
    by = df.groupby("worker")
    assert by["t0_monotonic"].median()["w1"] - by["t0_monotonic"].median()["w0"] > SKEW_S - 10  # the raw stamps are 1000 s apart
    assert by["clock_offset_s"].median()["w0"] - by["clock_offset_s"].median()["w1"] == pytest.approx(SKEW_S, abs=0.01)

    # the single-clock truth: undo the known skew; each stamp then matches the server's own log (one machine, one clock)
    t0 = df["t0_monotonic"].to_numpy() - df["worker"].map(skew).to_numpy()
    for r, t in zip(df.itertuples(), t0):
        if r.stream:
            truth = httpx2.get(f"{server.url}/debug/truth/{r.response_id}").json()
            assert abs(t + r.ttft_s - truth["chunk_times"][0]) < 0.05
    true_span = float(np.max(t0 + df["e2e_s"].to_numpy()) - np.min(t0))
    true_rps = len(df) / true_span
    true_tps = float(df["output_tokens"].astype(float).sum()) / true_span

    row = throughput_row(df)
    assert row["requests_per_s"] == pytest.approx(true_rps, rel=0.01)
    assert row["output_tokens_per_s"] == pytest.approx(true_tps, rel=0.01)
    assert (row["runs"], row["workers"]) == (1, 2)
    assert span_of(df).text.startswith("over 2 workers, 1 run, ")
    naive = float((df["t0_monotonic"] + df["e2e_s"]).max() - df["t0_monotonic"].min())  # the old window, across epochs
    assert naive > SKEW_S - 10
