"""Simulated capacity on the real built-in server: streams beyond ``capacity`` queue (TTFT grows), a 429 after ``queue_timeout_s``."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import http_get

from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import (
    BUILTINS,
    Deployment,
    SimProfile,
    find_deployment,
    parse_deployment,
)
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests


def capped(capacity: int, ttft_ms: float = 50, tps: float = 100, tokens: int = 10, queue_timeout_s: float = 30.0) -> Deployment:
    name = f"sim-cap-{uuid.uuid4().hex[:6]}"
    return Deployment(name=name, provider="simulated", model=name,
                      sim=SimProfile(ttft_ms=ttft_ms, tokens_per_s=tps, output_tokens=tokens, capacity=capacity, queue_timeout_s=queue_timeout_s))  # fmt: skip


@pytest.mark.alone
def test_streams_beyond_capacity_queue_and_their_ttft_includes_the_wait(server: ServerHandle, tmp_path: Path) -> None:
    dep = capped(2)  # e2e ≈ 50 ms + 9 × 10 ms = 140 ms
    with Store(tmp_path / "c.db") as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=4, concurrency=4, warmup=0, prompts=["p"]), st)
    df = load_requests(tmp_path / "c.db", [run])
    assert (df["status"] == "ok").all()
    # The server's own stamps say who waited for a slot, and how long: a difference of client TTFTs would not (one full-suite
    # run's client read the first two answers 180 ms late and the queued ones 56 ms after them).
    served = [http_get(f"{server.url}/debug/truth/{rid}").json() for rid in df["response_id"]]
    assert all(t["chunk_times"] for t in served)
    queued = sorted(t["queued_s"] for t in served)
    assert queued[1] < 0.02 and queued[2] > 0.1, queued  # two served at once; two waited for a slot (its holder's ≈ 140 ms)
    for t, ttft in zip(served, df["ttft_s"], strict=True):
        assert ttft >= t["queued_s"] + 0.045, (ttft, t["queued_s"])  # the client's TTFT holds the wait, then the 50 ms TTFT
        assert t["ttft"] >= t["queued_s"] + 0.045  # the server's too: the TTFT counts from when the request was in


def test_a_request_queued_past_queue_timeout_gets_429(server: ServerHandle, tmp_path: Path) -> None:
    dep = capped(1, ttft_ms=400, tokens=2, queue_timeout_s=0.1)
    with Store(tmp_path / "q.db") as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=2, concurrency=2, warmup=0, prompts=["p"], max_retries=0), st)
    df = load_requests(tmp_path / "q.db", [run])
    assert sorted(df["status"]) == ["error", "ok"]
    failed = df[df["status"] == "error"].iloc[0]
    assert failed["http_status"] == 429 and failed["error_type"] == "http_429" and "at capacity (1 streams)" in failed["error"]


def test_capacity_in_deployments_toml_and_the_builtin_ptu() -> None:
    dep = parse_deployment({"name": "ptu", "provider": "simulated", "capacity": 8, "queue_timeout_s": 2.5}, "deployments[0]")
    assert dep.sim is not None and dep.sim.capacity == 8 and dep.sim.queue_timeout_s == 2.5
    ptu = find_deployment(list(BUILTINS), "sim-ptu").sim
    assert ptu is not None and 0 < ptu.capacity <= 8
