"""The HTML report: self-contained, with the headline, sentences, table and every chart; renders offline in Chromium."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from metrics_frames import make_frame

from streaming.analysis import charts as C
from streaming.analysis.report import html_report


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    d = make_frame(deployments=("sim-fast", "sim-slow", "sim-turbo"), temperatures=(0.0, 1.0), prompts=3, repeats=2)
    d["provider"] = "simulated"
    return d


def test_report_is_self_contained(frame: pd.DataFrame) -> None:
    runs = pd.DataFrame([{"run_id": "run-a", "created_at": "2026-01-01T10:00:00Z", "status": "finished", "tag": "bench", "n_requests": len(frame)}])
    page = html_report(frame, runs, "Latency <report>")
    assert page.startswith("<!DOCTYPE html>") and "<title>Latency &lt;report&gt;</title>" in page
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=[\"']?(https?:)?//", page)  # nothing fetched from the network
    assert "Plotly" in page and len(page) > 1_000_000  # plotly.js is inlined
    for name in C.DEFAULT_VIEW:
        assert f"id='fig-{name}'" in page
    assert "sim-slow (simulated)" in page and "run-a" in page
    assert "a non-streaming user waits" in page and "t-test over prompts" in page
    assert "⚑ ≈max" in page  # p99 with n=6 per cell is flagged


def test_report_of_nothing_says_so() -> None:
    page = html_report(make_frame().iloc[0:0], None, "empty")
    assert "No requests in this selection." in page and "fig-" not in page


@pytest.mark.browser
def test_report_renders_offline_in_chromium(frame: pd.DataFrame, tmp_path: Path, browser: Any) -> None:
    path = tmp_path / "report.html"
    path.write_text(html_report(frame, None, "offline"), encoding="utf-8")
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    try:
        remote: list[str] = []
        page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:", "blob:")) else None)
        page.goto(path.as_uri())
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(C.DEFAULT_VIEW)}", timeout=30_000)
        assert page.locator(".js-plotly-plot").count() == len(C.DEFAULT_VIEW)
        assert remote == []
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    finally:
        page.close()
    assert (tmp_path / "report.png").stat().st_size > 10_000


@pytest.mark.slow
def test_cli_report_html(tmp_path: Path) -> None:
    import subprocess
    import sys

    import numpy as np
    from metrics_frames import make_record

    from streaming import store

    rng = np.random.default_rng(0)
    db = tmp_path / "r.db"
    with store.Store(db) as s:
        run_id = s.create_run("bench", {})
        s.add_records(run_id, [(make_record(d, m, rng, idx=i), {"seq": i, "prompt_id": "p0"}) for i, (d, m) in
                               enumerate([(d, m) for d in ("sim-fast", "sim-slow") for m in (True, False)] * 3)])  # fmt: skip
    out = tmp_path / "report.html"
    r = subprocess.run([sys.executable, "-m", "streaming", "report", run_id, "--db", str(db), "--format", "html", "--out", str(out)],
                       capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stderr
    page = out.read_text(encoding="utf-8")
    assert run_id in page and "sim-slow (simulated)" in page and "id='fig-ttft_box'" in page
