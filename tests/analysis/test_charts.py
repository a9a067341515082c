"""Chart builders: expected traces, axis titles and hover data on a small known frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from metrics_frames import make_frame

from streaming.analysis import charts as C


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    d = make_frame(deployments=("sim-fast", "sim-slow"), temperatures=(0.0, 1.0), prompts=3, repeats=2, failures=2)
    d["provider"] = "simulated"
    return d


def names(fig: go.Figure) -> list[str]:
    return [t.name for t in fig.data]


def test_ttft_box_uses_every_point_and_shows_ids(df: pd.DataFrame) -> None:
    fig = C.metric_box(df, "ttft_s", "stream")
    assert names(fig) == ["sim-fast (simulated)", "sim-fast (simulated) points", "sim-slow (simulated)", "sim-slow (simulated) points"]
    assert fig.layout.xaxis.title.text == "deployment" and fig.layout.yaxis.title.text == "TTFT (s)"
    ok = df[(df.status == "ok") & (df["mode"] == "stream") & (df.deployment == "sim-fast")]
    box, pts = fig.data[0], fig.data[1]
    assert box.median[0] == pytest.approx(float(np.median(ok.ttft_s)))
    assert sorted(pts.y) == pytest.approx(sorted(ok.ttft_s))
    assert set(pts.customdata[:, 0]) == set(ok.response_id)  # hover: the response id of each point
    assert f"n={len(ok)}" in pts.hovertemplate


def test_box_samples_points_above_the_cap(df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(C.common, "MAX_POINTS", 5)  # read where it is defined (charts/common.py)
    fig = C.metric_box(df, "e2e_s", None)
    assert len(fig.data[1].y) == 5 and "sample shown" in fig.data[1].hovertemplate
    assert fig.layout.yaxis.title.text == "end-to-end (s)"


def test_ecdf_ends_at_one(df: pd.DataFrame) -> None:
    fig = C.ecdf(df, "ttft_s")
    assert [t.name for t in fig.data] == ["sim-fast (simulated) (n=10)", "sim-slow (simulated) (n=12)"]
    for t in fig.data:
        assert t.y[-1] == 1.0 and np.all(np.diff(t.x) >= 0)
    assert fig.layout.xaxis.title.text == "TTFT (s)" and fig.layout.yaxis.title.text == "fraction of requests ≤ x"


def test_latency_vs_temperature_band_and_line(df: pd.DataFrame) -> None:
    fig = C.latency_vs_temperature(df, "ttft_s")
    assert names(fig) == ["sim-fast (simulated) 95% CI", "sim-fast (simulated)", "sim-slow (simulated) 95% CI", "sim-slow (simulated)"]
    line = fig.data[3]
    assert list(line.x) == [0.0, 1.0]
    slow0 = df[(df.deployment == "sim-slow") & (df["mode"] == "stream") & (df.temperature == 0.0)].ttft_s
    assert line.y[0] == pytest.approx(float(np.median(slow0)))
    assert list(line.customdata[:, 2]) == [6, 6]  # n per point
    assert fig.layout.xaxis.title.text == "temperature"


def test_stream_vs_nonstream_has_both_modes_and_ratio(df: pd.DataFrame) -> None:
    fig = C.stream_vs_nonstream(df)
    assert names(fig) == ["stream (TTFT)", "non-stream (e2e)", "per-prompt ratio"]
    assert fig.layout.yaxis.title.text == "perceived wait (s)"
    assert fig.layout.yaxis2.title.text == "non-stream wait / stream wait (×)"
    ratio = fig.data[2]
    # deployments × temperatures × prompts, less one: both streamed repeats of sim-fast/0.0/p0 failed (429)
    assert len(ratio.y) == 2 * 2 * 3 - 1
    assert all(r > 1 for r in ratio.y)  # non-streaming always waits for the whole answer


def test_token_timeline_one_marker_per_chunk(df: pd.DataFrame) -> None:
    rid = df[(df.status == "ok") & (df["mode"] == "stream")].iloc[0]
    fig = C.token_timeline(df, keys=[rid.response_id])
    assert len(fig.data) == 1
    tr = fig.data[0]
    assert list(tr.x) == pytest.approx(list(rid.chunk_times_s))
    assert tr.y[-1] == rid.output_tokens and rid.response_id in tr.hovertemplate
    assert fig.layout.xaxis.title.text == "time since request sent (s)" and fig.layout.yaxis.title.text == "cumulative tokens"
    assert len(C.token_timeline(df).data) >= 2  # default: some requests of each deployment


def test_chunk_histograms(df: pd.DataFrame) -> None:
    fig = C.tokens_per_chunk_histogram(df)
    assert fig.layout.xaxis.title.text == "tokens per chunk" and fig.layout.xaxis2.title.text == "characters per chunk"
    by_name = {t.name: t for t in fig.data}
    fast = by_name["sim-fast (simulated) (n=10)"]
    assert sum(fast.y) == 10  # one token per chunk in every request
    chars = [t for t in fig.data if t.xaxis == "x2"]
    assert sum(sum(t.y) for t in chars) == int(df[(df.status == "ok") & (df["mode"] == "stream")].chunks.sum())


def test_itl_and_stalls(df: pd.DataFrame) -> None:
    d = df.copy()
    i = d.index[(d.status == "ok") & (d["mode"] == "stream")][0]
    times = list(d.at[i, "chunk_times_s"])
    times[-1] = times[-2] + 2.0  # plant one 2 s stall
    d.at[i, "chunk_times_s"] = times
    d.at[i, "itl_s"] = list(np.diff(times))
    fig = C.itl_distribution(d, stall_s=0.5)
    assert fig.layout.xaxis.title.text == "inter-token latency (ms)" and fig.layout.xaxis.type == "log"
    total = sum(sum(t.y) for t in fig.data)
    assert total == sum(len(v) for v in d[(d.status == "ok") & (d["mode"] == "stream")].itl_s)
    st = C.stalls(d, 0.5)
    assert list(st.response_id) == [d.at[i, "response_id"]] and st.max_gap_s[0] == pytest.approx(2.0)
    assert "sim-fast (simulated) 1" in fig.layout.annotations[0].text


def test_errors_over_time_counts(df: pd.DataFrame) -> None:
    d = df.copy()
    d.at[d.index[5], "retries"] = 2
    d.at[d.index[5], "attempts"] = [{"attempt": 1, "http_status": 429}, {"attempt": 2, "http_status": 429}]
    fig = C.errors_over_time(d)
    by = {t.name: t for t in fig.data}
    assert sum(by["failed requests"].y) == 2
    assert sum(by["retries"].y) == 2
    assert sum(by["HTTP 429"].y) == 4  # two final 429s + two retried ones
    assert fig.layout.yaxis.title.text == "count per bin"


def test_default_figures_and_empty_frame(df: pd.DataFrame) -> None:
    figs = C.default_figures(df)
    assert tuple(figs) == C.DEFAULT_VIEW and all(len(f.data) for f in figs.values())
    empty = C.default_figures(df.iloc[0:0])
    assert all(len(f.data) == 0 and f.layout.annotations for f in empty.values())
