"""Throughput across Ray workers whose monotonic clocks have different epochs: each worker's wall-clock anchor puts them on one clock;
the servers' metrics, scraped by the driver, on the run's clock too."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import http_get

from streaming.analysis.capacity import throughput_row
from streaming.analysis.server_charts import server_series
from streaming.analysis.spans import span_of
from streaming.bench.plan import plan_run
from streaming.bench.distributed import run_distributed
from streaming.bench.matrix import BenchConfig
from streaming.core.config import Deployment, SimProfile
from streaming.store import Store, load_requests
from streaming.store.samples import load_samples

SKEW_S = 1000.0  # worker w1's clock reads this much ahead, as another host's monotonic clock would


@pytest.mark.alone
@pytest.mark.slow  # a local Ray cluster and real worker processes
def test_two_workers_with_offset_clocks_give_the_single_clock_throughput(ray_cluster: Any, server: Any, tmp_path: Path) -> None:
    name = f"sim-skew-{uuid.uuid4().hex[:6]}"  # capacity 2 at 4 streams: the server's queue, scraped by the driver (below)
    dep = Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=40, tokens_per_s=400, output_tokens=8, capacity=2))
    cfg = BenchConfig(deployments=[dep], prompts=["p1", "p2", "p3"], repeats=4, concurrency=4, warmup=0, workers=2, scrape_interval_s=0.1)
    skew = {"w0": 0.0, "w1": SKEW_S}
    with Store(tmp_path / "skew.db") as st:
        run_id = run_distributed(plan_run(cfg), st, clocks=[time.perf_counter, lambda: time.perf_counter() + SKEW_S])
        warnings = st.run_info(run_id)["warnings"]
    df = load_requests(tmp_path / "skew.db", [run_id])
    assert len(df) == 24 and (df["status"] == "ok").all() and set(df["worker"]) == {"w0", "w1"}
    by = df.groupby("worker")
    assert by["t0_monotonic"].median()["w1"] - by["t0_monotonic"].median()["w0"] > SKEW_S - 10  # the raw stamps are 1000 s apart
    assert by["clock_offset_s"].median()["w0"] - by["clock_offset_s"].median()["w1"] == pytest.approx(SKEW_S, abs=0.01)

    # the single-clock truth: undo the known skew; each stamp then matches the server's own log (one machine, one clock)
    t0 = df["t0_monotonic"].to_numpy() - df["worker"].map(skew).to_numpy()
    for r, t in zip(df.itertuples(), t0):
        if r.stream:
            truth = http_get(f"{server.url}/debug/truth/{r.response_id}").json()
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

    # the servers' side: scraped by the driver alone (not once per worker), on its own clock from the agreed start,
    # so the server's queue lines up with the requests' sent_s although w1's clock is 1000 s ahead
    assert not [w for w in warnings if w.startswith("server metrics:")], warnings
    series = server_series(load_samples(tmp_path / "skew.db", [run_id], summary=True))
    assert set(series["deployment"]) == {name} and len(series) >= 4, series.to_string()
    assert 1 <= series["waiting"].max() <= 2 and series["running"].max() == 2, series.to_string()
    t = series["t_s"].to_numpy()
    assert t.min() >= -0.05 and len(t) <= (t.max() - t.min()) / 0.1 + 2  # from the start on, one scraper every 0.1 s
    last_end = float((df["sent_s"] + df["e2e_s"]).max())
    busy = float(series[series["running"] > 0]["t_s"].max())
    assert -0.3 < busy - last_end < 0.1, (busy, last_end)  # the server's last busy scrape at the client's last end
