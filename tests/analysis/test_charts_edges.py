"""Chart edge cases, on real records: a connection error (no HTTP status), zero errors, one-value histograms, log ticks."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from metrics_frames import make_frame

from streaming import store
from streaming.analysis import charts as C
from streaming.core.client import Client
from streaming.core.config import load_deployments
from streaming.core.request import LLMRequest, RetryPolicy

pytestmark = pytest.mark.xdist_group("charts-edges")  # one worker runs the module, so its failed run is made once

REFUSED = """
[[deployments]]
name = "nowhere"
provider = "compatible"
base_url = "http://127.0.0.1:9/v1"
model = "m"
"""


@pytest.fixture(scope="module")
def failed_run(server: Any, tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """A run with real records: two sim-fast answers and one connection refused on loopback (no HTTP status)."""
    tmp = tmp_path_factory.mktemp("conn-error")
    (tmp / "deps.toml").write_text(REFUSED)
    deps = load_deployments(str(tmp / "deps.toml"))
    db = str(tmp / "r.db")
    with Client(list(deps), server_url=server.url, retry=RetryPolicy(max_retries=0)) as c, store.Store(db) as s:
        run = s.create_run("bench")
        for name in ("sim-fast", "nowhere", "sim-fast"):
            s.add_record(run, c.run(name, LLMRequest.chat("What is latency?", max_tokens=8)))
        s.finish_run(run)
    df = store.load_requests(db, [run])
    assert (df["status"] != "ok").sum() == 1 and df["http_status"].isna().any()
    return df


def test_errors_chart_survives_a_connection_error(failed_run: pd.DataFrame) -> None:
    fig = C.errors_over_time(C.prepare(failed_run))
    failed = next(t for t in fig.data if t.name == "failed requests")
    assert float(np.sum(failed.y)) == 1.0
    assert float(np.sum(next(t for t in fig.data if t.name == "HTTP 429").y)) == 0.0
    figs = C.default_figures(failed_run)  # the whole Metrics view builds
    assert set(figs) == set(C.DEFAULT_VIEW)


def test_errors_chart_with_zero_errors_starts_at_zero() -> None:
    d = make_frame(deployments=("sim-fast",), temperatures=(0.0,), prompts=3, repeats=2, failures=0)
    fig = C.errors_over_time(C.prepare(d))
    assert tuple(fig.layout.yaxis.range) == (0, 1) and fig.layout.yaxis.rangemode == "nonnegative"
    assert any("No failed requests" in a.text for a in fig.layout.annotations)


def test_tokens_per_chunk_spreads_over_bars_or_says_the_one_value() -> None:
    edges = C.tokens_per_chunk_edges(np.array([1.0, 1.1, 1.25, 1.4, 2.0]))
    counts, _ = np.histogram([1.0, 1.1, 1.25, 1.4, 2.0], bins=edges)
    assert (counts > 0).sum() >= 4  # not one integer-wide bar
    d = make_frame(deployments=("sim-fast",), temperatures=(0.0,), prompts=3, repeats=2, failures=0)
    d["chunks"] = d["output_tokens"]  # one token per chunk everywhere
    fig = C.tokens_per_chunk_histogram(C.prepare(d))
    assert any("tokens per chunk" in (a.text or "") and a.text.startswith("all ") for a in fig.layout.annotations)


def test_log_axis_ticks_have_full_labels() -> None:
    vals, text = C.log_ticks(3.0, 150.0)
    assert text == ["5", "10", "20", "50", "100"] and vals == [5.0, 10.0, 20.0, 50.0, 100.0]
    d = make_frame(deployments=("sim-fast",), temperatures=(0.0,), prompts=3, repeats=2, failures=0)
    fig = C.itl_distribution(C.prepare(d))
    assert fig.layout.xaxis.type == "log" and list(fig.layout.xaxis.ticktext) == [f"{v:g}" for v in fig.layout.xaxis.tickvals]


def test_token_timeline_never_goes_back_in_time() -> None:
    d = make_frame(deployments=("sim-fast",), temperatures=(0.0,), prompts=2, repeats=1, failures=0)
    d["chunk_times_s"] = [np.asarray(v)[::-1].copy() for v in d["chunk_times_s"]]  # stored out of order
    fig = C.token_timeline(C.prepare(d))
    assert fig.data and all(np.all(np.diff(t.x) >= 0) for t in fig.data)


def test_temperature_band_has_no_markers() -> None:
    d = make_frame(deployments=("sim-fast",), temperatures=(0.0, 1.0), prompts=3, repeats=2, failures=0)
    fig = C.latency_vs_temperature(C.prepare(d))
    band = next(t for t in fig.data if t.name.endswith("95% CI"))
    assert band.mode == "lines"
