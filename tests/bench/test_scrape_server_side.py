"""The server side on the real built-in server: a capacity-8 simulated deployment at 32 streams.

The stored server-side waiting count peaks at 24 ± 2, and the TTFT split (header → record → store →
analysis) attributes the queueing within 10 % of the simulator's own truth.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from conftest import http_get

from streaming.analysis.server_charts import server_series, server_side, split_summaries, ttft_split
from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests
from streaming.store.samples import load_samples

TTFT_MS = 100


@pytest.mark.alone
def test_capacity_8_at_32_streams_shows_24_waiting_and_the_queue_in_the_ttft(server: ServerHandle, tmp_path: Path) -> None:
    name = f"sim-cap8-{uuid.uuid4().hex[:6]}"  # each request ≈ 0.1 s + 24 tokens at 100/s ≈ 0.34 s; 64 requests = 8 waves
    dep = Deployment(name=name, provider="simulated", model=name,
                     sim=SimProfile(ttft_ms=TTFT_MS, tokens_per_s=100, output_tokens=25, capacity=8, queue_timeout_s=60))  # fmt: skip
    db = tmp_path / "side.db"
    with Store(db) as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=64, concurrency=32, warmup=0, prompts=["p"],
                                        scrape_interval_s=0.1), st)  # fmt: skip
        warnings = st.run_info(run)["warnings"]
    assert not [w for w in warnings if w.startswith("server metrics:")]
    samples = load_samples(db, [run], summary=True)
    assert set(samples["deployment"].dropna()) == {name}  # the server's other models are not this run's
    series = server_series(samples)
    assert len(series) >= 10  # every 0.1 s over a ~3 s run
    assert 22 <= series["waiting"].max() <= 26
    assert series["running"].max() == 8 and series["kv_cache_usage"].max() == pytest.approx(1.0), series.to_string()
    assert series["waiting"].iloc[-1] == 0  # the queue drains by the end

    df = load_requests(db, [run])
    assert (df["status"] == "ok").all() and len(df) == 64
    split = ttft_split(df)
    assert len(split) == 64
    truth = {rid: http_get(f"{server.url}/debug/truth/{rid}").json()["queued_s"] for rid in df["response_id"]}
    truth_mean = sum(truth.values()) / len(truth)
    assert truth_mean > 0.5  # the first 32 waited 0 to 3 waves (0.5 s on average), the last 32 three waves each
    (summary,) = split_summaries(split, {name: 32})
    assert summary.queue_s == pytest.approx(truth_mean, rel=0.10)
    assert 0.09 <= summary.rest_s <= 0.30  # what is left is the profile's own 100 ms TTFT (plus the client's overhead)
    side = server_side(samples, df, {run: {"concurrency": 32, "rate": None}}, warnings)
    assert side.sentences[0].startswith(f"{name}: of a ") and "at 32 streams" in side.sentences[0] and "was queueing in the server" in side.sentences[0]
    assert {"server_side", "ttft_split"} <= set(side.figures)


def test_the_html_report_has_the_server_side(server: ServerHandle, tmp_path: Path) -> None:
    name = f"sim-cap2-{uuid.uuid4().hex[:6]}"
    dep = Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=50, tokens_per_s=100, output_tokens=10, capacity=2))
    db = tmp_path / "rep.db"
    with Store(db) as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=8, concurrency=8, warmup=0, prompts=["p"], scrape_interval_s=0.1), st)
    out = tmp_path / "r.html"
    from streaming.cli import main

    assert main(["report", run, "--db", str(db), "--format", "html", "--out", str(out)]) == 0
    page = out.read_text()
    assert "<h2 id=server-side>Server side</h2>" in page and "fig-server-server_side" in page and "fig-server-ttft_split" in page
    assert f"{name}: of a " in page and "at 8 streams" in page and "was queueing in the server" in page
