"""Aggregate throughput of real runs against the built-in server's truth log: two runs with a gap between them (warmups)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import http_get

from streaming.analysis.capacity import throughput_row
from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests


def server_window(server: ServerHandle, ids: list[str]) -> float:
    """From the first request the server received to the last response it finished, by the server's own clock."""
    t = [http_get(f"{server.url}/debug/truth/{i}").json() for i in ids]
    return max(x["finished_at"] for x in t) - min(x["received_at"] for x in t)


@pytest.mark.alone
def test_two_runs_count_their_own_time_not_the_gap(server: ServerHandle, tmp_path: Path) -> None:
    dep = Deployment(name="sim-tput-truth", provider="simulated", model="sim-tput-truth", sim=SimProfile(ttft_ms=30, tokens_per_s=500, output_tokens=10))
    # the second run warms up for 4 × 0.15 s first: a gap of over half a second between the two measured windows
    slow_warm = Deployment(name="sim-tput-truth", provider="simulated", model="sim-tput-truth", sim=SimProfile(ttft_ms=150, tokens_per_s=500, output_tokens=10))
    with Store(tmp_path / "t.db") as st:
        a = run_benchmark(BenchConfig(deployments=[dep], prompts=["p1", "p2"], mode="stream", requests=24, concurrency=4, warmup=0), st)
        b = run_benchmark(BenchConfig(deployments=[slow_warm], prompts=["p1", "p2"], mode="stream", requests=24, concurrency=4, warmup=4), st)
    df = load_requests(tmp_path / "t.db", [a, b])
    assert (df["status"] == "ok").all() and len(df) == 48
    spans = [server_window(server, df[df["run_id"] == r]["response_id"].tolist()) for r in (a, b)]
    everything = server_window(server, df["response_id"].tolist())
    assert everything > sum(spans) + 0.5  # the gap is real: the old window (first send to last end) would include it
    row = throughput_row(df)
    assert row["runs"] == 2 and row["duration_s"] == pytest.approx(sum(spans), rel=0.05, abs=0.02)
    assert row["requests_per_s"] == pytest.approx(48 / sum(spans), rel=0.05)
    assert row["output_tokens_per_s"] == pytest.approx(float(np.sum(df["output_tokens"].astype(float))) / sum(spans), rel=0.05)
