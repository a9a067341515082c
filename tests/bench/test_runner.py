"""The runner against the real built-in server: storage, 429 + retry-after, timeouts, rate mode, stop, pool size."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import numpy as np
import pytest
from conftest import http_get

from streaming.bench.matrix import BenchConfig, poisson_schedule
from streaming.bench.progress import Progress
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, Fault, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, list_runs, load_requests


def sim(ttft_ms: float = 30, tps: float = 1000, tokens: int = 10, faults: tuple[Fault, ...] = (), name: str | None = None) -> Deployment:
    name = name or f"sim-t-{uuid.uuid4().hex[:6]}"  # fresh name: the server counts faults per model
    return Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=ttft_ms, tokens_per_s=tps, output_tokens=tokens, faults=faults))


def fast_cfg(**kw: object) -> BenchConfig:
    base: dict[str, object] = dict(deployments=[sim()], prompts=["p1", "p2"], warmup=0, retry_base_s=0.05)
    base.update(kw)
    return BenchConfig(**base)  # type: ignore[arg-type]


def truth(server: ServerHandle, rid: str) -> dict:
    return http_get(f"{server.url}/debug/truth/{rid}").json()


@pytest.mark.alone
def test_run_stores_every_request_with_progress(server: ServerHandle, tmp_path: Path) -> None:
    seen: list[Progress] = []
    with Store(tmp_path / "b.db") as st:
        run = run_benchmark(fast_cfg(repeats=2, warmup=1, concurrency=3), st, seen.append)
    df = load_requests(tmp_path / "b.db", [run])
    assert len(df) == 2 * 2 * 2 and (df["status"] == "ok").all()
    assert sorted(df["seq"]) == list(range(8))
    assert set(df["mode"]) == {"stream", "non-stream"} and df.groupby("pair_id")["mode"].nunique().eq(2).all()
    s = df[df["mode"] == "stream"]
    assert s["ttft_s"].notna().all() and df[df["mode"] == "non-stream"]["ttft_s"].isna().all()
    for _, row in s.iterrows():  # the client's TTFT is the server's first chunk, within a few ms
        t = truth(server, row["response_id"])
        assert abs(row["t0_monotonic"] + row["ttft_s"] - t["chunk_times"][0]) < 0.05
    assert len(load_requests(tmp_path / "b.db", [run], include_warmup=True)) == 9
    assert seen[-1].phase == "finished" and seen[-1].done == 8 and seen[-1].total == 8 and len(seen[-1].points) == 8
    runs = list_runs(tmp_path / "b.db")
    assert runs.iloc[0]["run_id"] == run and runs.iloc[0]["status"] == "finished" and runs.iloc[0]["n_requests"] == 8


@pytest.mark.alone
def test_429_retry_after_is_honoured_and_kept_out_of_ttft(server: ServerHandle, tmp_path: Path) -> None:
    flaky = sim(faults=(Fault(kind="429", every=2, seconds=0.3),))  # every 2nd request: 429 with retry-after-ms 300
    always = sim(faults=(Fault(kind="429", every=1, seconds=0.05),))
    with Store(tmp_path / "r.db") as st:
        run = run_benchmark(fast_cfg(deployments=[flaky, always], mode="stream", requests=8, concurrency=1, max_retries=1), st)
    df = load_requests(tmp_path / "r.db", [run])
    f = df[df["deployment"] == flaky.name].sort_values("seq")
    assert (f["status"] == "ok").all()
    assert sorted(f["retries"]) == [0, 1, 1, 1]  # counts 1 | 2→429,3 | 4→429,5 | 6→429,7
    retried = f[f["retries"] == 1]
    assert np.allclose(retried["retry_wait_s"], 0.3)  # the server's retry-after-ms, not our backoff
    assert (retried["ttft_s"] < 0.25).all()  # the wait is beside TTFT, never in it
    assert all('"http_status":429' in a for a in retried["attempts"])
    a = df[df["deployment"] == always.name]
    assert (a["status"] == "error").all() and (a["error_type"] == "http_429").all() and (a["retries"] == 1).all()  # bounded; the run went on


def test_timeouts_become_rows(server: ServerHandle, tmp_path: Path) -> None:
    slow = sim(ttft_ms=10, tps=10, tokens=20)  # chunks every 100 ms (no stall), 2 s in all
    stalls = sim(faults=(Fault(kind="stall", every=1, after_tokens=2, seconds=2.0),))
    with Store(tmp_path / "t.db") as st:
        run = run_benchmark(fast_cfg(deployments=[slow, stalls], mode="stream", requests=2, concurrency=2, timeout_s=0.5, stall_s=0.3, max_retries=0), st)
    df = load_requests(tmp_path / "t.db", [run]).set_index("deployment")
    assert df.loc[slow.name, "status"] == "error" and df.loc[slow.name, "error_type"] == "request_timeout"
    assert 0.45 <= df.loc[slow.name, "e2e_s"] < 1.5  # cut at the limit, not at the end (2 s)
    assert df.loc[stalls.name, "status"] == "stalled" and df.loc[stalls.name, "chunks"] == 2


def test_rate_mode_records_intended_and_actual_send_times(server: ServerHandle, tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as st:
        run = run_benchmark(fast_cfg(mode="stream", requests=12, rate=40.0, seed=5), st)
    df = load_requests(tmp_path / "p.db", [run]).sort_values("seq")
    assert list(df["scheduled_s"]) == poisson_schedule(12, 40.0, 5)
    assert (df["sent_s"] >= df["scheduled_s"] - 1e-3).all()  # never early
    assert df["schedule_lag_s"].notna().all()


def test_stop_keeps_the_partial_run_marked_stopped(server: ServerHandle, tmp_path: Path) -> None:
    stop = threading.Event()

    def progress(p: Progress) -> None:
        if p.done >= 3:
            stop.set()

    with Store(tmp_path / "s.db") as st:
        run = run_benchmark(fast_cfg(deployments=[sim(ttft_ms=100)], mode="stream", requests=40, concurrency=2), st, progress, stop)
        info = st.run_info(run)
    df = load_requests(tmp_path / "s.db", [run])
    assert info is not None and info["status"] == "stopped"
    assert 3 <= len(df) < 40 and (df["status"] == "ok").all()  # requests cut by Stop are not stored as measurements


def test_pool_is_sized_to_concurrency_above_100(server: ServerHandle, tmp_path: Path) -> None:
    dep = sim(ttft_ms=2500, tokens=1)
    with Store(tmp_path / "c.db") as st:
        run = run_benchmark(fast_cfg(deployments=[dep], mode="stream", requests=120, concurrency=120, prompts=["x"]), st)
    df = load_requests(tmp_path / "c.db", [run])
    assert (df["status"] == "ok").all() and len(df) == 120
    truths = [truth(server, r) for r in df["response_id"]]
    # all 120 were in flight together: the last one arrived before the first one finished
    assert max(t["received_at"] for t in truths) < min(t["finished_at"] for t in truths)


def test_ramp_staggers_the_first_sends(server: ServerHandle, tmp_path: Path) -> None:
    with Store(tmp_path / "ramp.db") as st:
        run = run_benchmark(fast_cfg(deployments=[sim(ttft_ms=600)], mode="stream", requests=4, concurrency=4, ramp_s=0.4), st)
    sent = sorted(load_requests(tmp_path / "ramp.db", [run])["sent_s"])
    assert all(s >= 0.1 * i - 1e-3 for i, s in enumerate(sent))  # worker i starts at i × ramp / C
    assert sent[-1] < 0.6  # and not after the ramp
