"""Schedule-corrected TTFT (rate mode) against the built-in server's truth log: from the scheduled instant to the first token,
connection setup included (a listener whose full accept queue makes the client's connect take its 1 s SYN retransmit)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import http_get, pipe

from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests


def truth_first_chunk(server: ServerHandle, rid: str) -> float:
    return float(http_get(f"{server.url}/debug/truth/{rid}").json()["chunk_times"][0])


def syn_sent_to(port: int) -> bool:
    """Whether a socket on this machine is in SYN_SENT towards 127.0.0.1:``port`` (the kernel's own table, /proc/net/tcp)."""
    want = f"0100007F:{port:04X}"
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return any(f[2] == want and f[3] == "02" for f in (r.split() for r in rows))


class SlowConnect:
    """A loopback forwarder to ``upstream`` whose accept queue is full (listen backlog 0, one connection parked in it).

    Linux drops a SYN to a full queue. Once the client's socket has sat in SYN_SENT towards this port (its first SYN
    dropped) the parked connection is accepted, and the client's kernel retransmits its SYN after the initial RTO (1 s):
    connecting takes about a second, by the kernel's own timer. (Waiting on the kernel's global ListenOverflows counter
    instead let any other drop on the machine release the queue before the client's SYN arrived.)"""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.parked = socket.create_connection(("127.0.0.1", self.port))  # fills the queue's one slot
        self.socks: list[socket.socket] = [self.listener, self.parked]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while not syn_sent_to(self.port):  # until the client's first SYN has met the full queue
                threading.Event().wait(0.005)
            threading.Event().wait(0.05)  # loopback delivers at once; this margin is far inside the 1 s RTO
            self.listener.accept()[0].close()  # the parked one: the retransmitted SYN will find room
            while True:
                conn, _ = self.listener.accept()
                up = socket.create_connection(self.upstream)
                self.socks += [conn, up]
                for a, b in ((conn, up), (up, conn)):
                    threading.Thread(target=pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        for s in self.socks:
            s.close()


@pytest.fixture
def slow_connect(server: ServerHandle) -> Iterator[SlowConnect]:
    host, port = server.url.split("//", 1)[1].split(":")
    fwd = SlowConnect((host, int(port)))
    try:
        yield fwd
    finally:
        fwd.close()


@pytest.mark.alone
def test_ttft_from_schedule_is_the_truth_from_the_scheduled_instant(server: ServerHandle, tmp_path: Path) -> None:
    """One request in flight at 20/s, 100 ms each: the client falls behind; every figure matches the server's own log."""
    dep = Deployment(name="sim-sched-truth", provider="simulated", model="sim-sched-truth", sim=SimProfile(ttft_ms=100, tokens_per_s=1000, output_tokens=2))
    cfg = BenchConfig(deployments=[dep], prompts=["p"], mode="stream", requests=12, rate=20.0, max_in_flight=1, seed=3, warmup=0)
    with Store(tmp_path / "s.db") as st:
        run = run_benchmark(cfg, st)
    df = load_requests(tmp_path / "s.db", [run])
    assert df["schedule_lag_s"].max() > 0.3  # the client fell behind its schedule
    scheduled = df["run_start_s"] + df["scheduled_s"]  # the intended send, on the client's clock (the server's too: one machine)
    truth = np.array([truth_first_chunk(server, r) for r in df["response_id"]]) - scheduled.to_numpy()
    late = df["ttft_from_schedule_s"].to_numpy() - truth  # the client reads the first token a little after the server wrote it
    assert np.all(late > -0.001) and np.all(late < 0.02), late


@pytest.mark.alone
def test_connection_setup_counts_from_the_schedule(server: ServerHandle, slow_connect: SlowConnect, tmp_path: Path) -> None:
    dep = Deployment(name="slow-connect", provider="compatible", model="sim-fast", base_url=f"http://127.0.0.1:{slow_connect.port}/v1")
    cfg = BenchConfig(deployments=[dep], prompts=["p"], mode="stream", requests=1, rate=5.0, seed=1, warmup=0, max_retries=0)
    with Store(tmp_path / "c.db") as st:
        run = run_benchmark(cfg, st)
    r = load_requests(tmp_path / "c.db", [run]).iloc[0]
    assert r["status"] == "ok" and r["connect_s"] > 0.8  # the kernel's SYN retransmit: the connection took about a second
    truth = truth_first_chunk(server, r["response_id"]) - (r["run_start_s"] + r["scheduled_s"])
    assert -0.001 < r["ttft_from_schedule_s"] - truth < 0.02
    assert r["ttft_from_schedule_s"] > r["schedule_lag_s"] + r["ttft_s"] + 0.8  # lag + TTFT alone would leave the connect out
