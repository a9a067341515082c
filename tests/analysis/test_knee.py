"""The knee chart and the capacity card: the figure itself, the Metrics page (AppTest and Chromium) and the HTML report (Chromium),
on a real sweep stored by ``run_sweep`` against the built-in server (a simulated capacity of 4)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from conftest import streamlit_app
from streamlit.testing.v1 import AppTest

from streaming.analysis.knee import knee_chart
from streaming.bench.matrix import BenchConfig
from streaming.bench.sweep import load_sweep, run_sweep
from streaming.core.config import Deployment, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store

pytestmark = pytest.mark.xdist_group("knee")  # one worker runs the module, so its sweep fixture (about 15 s of runs) runs once

ROOT = Path(__file__).resolve().parents[2]
PAGE = str(ROOT / "pages" / "metrics.py")


@pytest.fixture(scope="module")
def sweep_db(server: ServerHandle, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    name = f"sim-knee-{uuid.uuid4().hex[:6]}"
    dep = Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=50, tokens_per_s=100, output_tokens=40, capacity=4))
    path = tmp_path_factory.mktemp("knee") / "sweep.db"
    with Store(path) as db:
        res = run_sweep(BenchConfig(deployments=[dep], mode="stream", warmup=0, prompts=["p"]), db, ["ttft_p95 <= 0.3"], "concurrency", 16, 3, 30)
    assert res.edge is not None and res.edge.load == 4
    return path, res.sweep_id


@pytest.mark.slow
def test_knee_chart_has_a_point_per_step_with_ci_the_slo_line_and_the_edge(sweep_db: tuple[Path, str]) -> None:
    path, sweep_id = sweep_db
    res = load_sweep(str(path), sweep_id)
    fig = knee_chart(res)
    ttft, e2e, edge = fig.data
    assert len(ttft.x) == len(res.steps) >= 3 and list(ttft.text) == [f"{s.load:g}" for s in sorted(res.steps, key=lambda s: s.load)]
    assert all(h >= 0 for h in ttft.error_y.array) and all(lo >= 0 for lo in ttft.error_y.arrayminus) and e2e.name == "e2e p95"
    assert [sh.y0 for sh in fig.layout.shapes] == [0.3]  # the SLO line
    assert edge.name.startswith("edge: 4 streams") and edge.marker.symbol == "star"


def test_metrics_page_shows_the_capacity_card_throughput_and_knee(sweep_db: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = sweep_db
    monkeypatch.setenv("STREAMING_DB", str(path))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    cap = [m for m in at.metric if m.label == "capacity"]
    assert len(cap) == 1 and cap[0].value == "4 concurrent streams"
    assert any("holds 4 concurrent streams at TTFT p95 ≤ 0.3 s" in c.value for c in at.caption)
    tput = next(d.value for d in at.dataframe if "workers" in d.value.columns)  # the Throughput table, headers in words
    assert tput["requests/s"].iloc[0] > 0 and "goodput requests/s" in tput.columns
    assert len(at.get("plotly_chart")) >= 1


@pytest.mark.browser
def test_knee_chart_in_chromium_on_the_metrics_page_and_in_the_report(sweep_db: tuple[Path, str], tmp_path: Path, browser: Any) -> None:
    path, _ = sweep_db
    env = {**os.environ, "STREAMING_DB": str(path)}
    with streamlit_app(PAGE, env, str(tmp_path / "streamlit.log")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            page.get_by_text("Capacity", exact=True).wait_for(timeout=60_000)
            knee = page.locator(".js-plotly-plot").filter(has_text="Capacity knee")
            knee.wait_for(timeout=60_000)
            knee.scroll_into_view_if_needed()
            assert page.get_by_text("4 concurrent streams", exact=True).count() == 1
            knee.screenshot(path=str(tmp_path / "knee-metrics.png"))
            page.screenshot(path=str(tmp_path / "metrics-capacity.png"), full_page=True)
        finally:
            page.close()
    assert (tmp_path / "knee-metrics.png").stat().st_size > 10_000
    from streaming.store.sweeps import sweep_runs

    runs, _ = sweep_runs(path, sweep_db[1])
    out = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "streaming", "report", runs["run_id"].iloc[0], "--db", str(path), "--format", "html", "--out", str(out)],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        page.goto(out.as_uri())
        card = page.locator("#capacity")
        assert "holds 4 concurrent streams" in card.inner_text()
        fig = page.locator("#fig-knee .js-plotly-plot")
        fig.wait_for(timeout=30_000)
        fig.scroll_into_view_if_needed()
        assert page.locator("#fig-knee .scatterlayer .trace").count() == 3  # TTFT p95, e2e p95, the edge
        fig.screenshot(path=str(tmp_path / "knee-report.png"))
    finally:
        page.close()
    assert (tmp_path / "knee-report.png").stat().st_size > 10_000
