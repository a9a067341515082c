"""The Metrics page: latency over the run, aggregate throughput, and the HTML report download (AppTest + exact figures)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from metrics_frames import METRICS_PAGE as PAGE
from metrics_frames import make_db

from streaming.analysis import over_run


def frame() -> pd.DataFrame:
    """Four requests over 10 s: starts at 0, 2, 4, 8 s; the last ends at 8 + 2 = 10 s; one failure."""
    t0 = pd.Timestamp("2026-11-20T10:00:00Z")
    return pd.DataFrame({
        "deployment": ["a", "a", "a", "a"], "provider": ["simulated"] * 4, "mode": ["stream"] * 4,
        "status": ["ok", "ok", "error", "ok"], "started_at": [(t0 + pd.Timedelta(seconds=s)).isoformat() for s in (0, 2, 4, 8)],
        "ttft_s": [0.2, 0.3, None, 0.25], "e2e_s": [1.0, 1.5, 0.1, 2.0], "output_tokens": [10, 20, None, 30],
    })  # fmt: skip


def test_aggregate_throughput_is_over_the_wall_clock_span() -> None:
    (t,) = over_run.aggregate_throughput(frame())
    assert t.span_s == pytest.approx(10.0)
    assert t.requests_per_s == pytest.approx(4 / 10) and t.output_tokens_per_s == pytest.approx(60 / 10)


def test_latency_over_run_plots_ttft_and_e2e_against_time_since_start() -> None:
    fig = over_run.latency_over_run(frame())
    ttft = next(tr for tr in fig.data if tr.name.endswith("TTFT"))
    e2e = next(tr for tr in fig.data if tr.name.endswith("e2e"))
    assert list(ttft.x) == [0.0, 2.0, 8.0] and list(ttft.y) == [0.2, 0.3, 0.25]
    assert list(e2e.x) == [0.0, 2.0, 8.0]  # the failed request is not a latency


def test_metrics_page_shows_them_and_offers_the_html_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_db(tmp_path / "r.db")
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "r.db"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert any(h.value == "Over the run" for h in at.subheader)
    table = next(d.value for d in at.dataframe if "requests/s" in d.value.columns and "workers" not in d.value.columns)  # not the Throughput table
    assert set(table["deployment"]) == {"sim-fast", "sim-slow", "sim-turbo"} and (table["requests/s"] > 0).all()
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download the HTML report" in labels and "Download the filtered rows (CSV)" in labels
