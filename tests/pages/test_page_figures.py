"""The Metrics page: only real pairs are paired (in Chromium), sentences that say what happened,
and the paired ratio's n with no CI under 5 prompts."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import streamlit_app
from metrics_frames import make_record
from streamlit.testing.v1 import AppTest
from metrics_frames import METRICS_PAGE as PAGE
from metrics_frames import db, text_of  # noqa: F401 - db is a fixture

from streaming import store
from streaming.analysis.compare import paired_compare, paired_frame
from streaming.analysis.tables import headlines
from streaming.analysis.wording import paired_sentence, ttft_n_caption


def race_db(path: Path) -> tuple[float, float]:
    """A demo run: two race pairs (their own pair_id) and unrelated single turns in both modes. Returns the two real ratios."""
    rng = np.random.default_rng(1)
    ratios = []
    with store.Store(path) as s:
        demo = s.get_or_create_demo_run()
        for i, (ttft, tokens) in enumerate(((0.1, 59), (0.2, 9))):
            streamed = make_record("sim-fast", True, rng, 0.7, ttft=ttft, tps=100.0, tokens=20, idx=10 * i)
            plain = make_record("sim-fast", False, rng, 0.7, ttft=ttft, tps=10.0, tokens=tokens, idx=10 * i + 1)
            plain.ttft_s = None
            for r in (streamed, plain):
                s.add_record(demo, r, tag="demo", pair_id=f"race-{i}", turn_kind="race")
            ratios.append(plain.e2e_s / streamed.ttft_s)
        for i in range(3):  # chat turns, never raced: nothing to pair them with
            s.add_record(demo, make_record("sim-fast", True, rng, 0.7, ttft=0.05, idx=100 + i), tag="demo", turn_kind="chat")
        lone = make_record("sim-fast", False, rng, 0.7, ttft=3.0, tokens=40, idx=200)
        lone.ttft_s = None
        s.add_record(demo, lone, tag="demo", turn_kind="chat")
    return ratios[0], ratios[1]


def test_only_real_race_pairs_are_paired(tmp_path: Path) -> None:
    r1, r2 = race_db(tmp_path / "demo.db")
    df = store.load_requests(tmp_path / "demo.db")
    pairs = paired_frame(df)
    assert len(pairs) == 2 and sorted(pairs["ratio"]) == pytest.approx(sorted([r1, r2]))
    p = paired_compare(pairs)
    assert p is not None and p.n_pairs == 2 and np.isnan(p.ratio.lo)  # no CI under 5 prompts
    assert "no CI: 2 prompts is too few, it needs 5" in paired_sentence(p)


@pytest.mark.browser
def test_metrics_page_pairs_only_real_pairs_in_chromium(tmp_path: Path, browser: Any) -> None:
    r1, r2 = race_db(tmp_path / "demo.db")
    expected = f"{np.median([r1, r2]):.1f}×"
    env = {**os.environ, "STREAMING_DB": str(tmp_path / "demo.db")}
    with streamlit_app(PAGE, env, str(tmp_path / "streamlit.log")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            page.get_by_text("Percentiles", exact=True).wait_for(timeout=60_000)
            metric = page.locator('[data-testid="stMetric"]', has_text="non-stream / stream wait")
            metric.wait_for(timeout=30_000)
            assert expected in metric.inner_text(), (expected, metric.inner_text())
            page.get_by_text("no CI: n=2 prompts (needs 5)").wait_for(timeout=10_000)
            page.get_by_text("On the same 2 prompts").wait_for(timeout=10_000)
            page.screenshot(path=str(tmp_path / "pairs.png"), full_page=True)
        finally:
            page.close()
    print(tmp_path / "pairs.png")


def test_compare_sentence_says_why_a_cell_has_no_value(db: tuple[Path, str]) -> None:  # noqa: F811
    """both cells had requests; the non-streaming one has no TTFT by definition."""
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.radio(key="cmp_by").set_value("cells (deployment · temperature · mode)").run()
    at.selectbox(key="cmp_a").set_value("sim-fast (simulated) · T=0 · stream").run()
    at.selectbox(key="cmp_b").set_value("sim-fast (simulated) · T=0 · non-stream").run()
    text = text_of(at)
    assert "no successful requests" not in text
    assert ("Cannot compare median TTFT of sim-fast (simulated) · T=0 · stream and sim-fast (simulated) · T=0 · non-stream: "
            "sim-fast (simulated) · T=0 · non-stream has no value (its 9 requests are non-streaming, and a non-streaming request has no TTFT).") in text  # fmt: skip


def test_paired_sentence_blames_the_mode_filter(db: tuple[Path, str]) -> None:  # noqa: F811
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="f_mode").set_value(["stream"]).run()
    text = text_of(at)
    assert "No prompt was run both streaming and non-streaming" not in text
    assert "The Mode filter keeps only streaming requests, so no prompt can be paired with its non-streaming twin" in text


def test_headline_says_streamed_requests_failed_rather_than_none_streamed() -> None:
    rng = np.random.default_rng(0)
    rows = []
    for i in range(3):
        r = make_record("sim-x", True, rng, idx=i, status="error")
        r.ttft_s = r.t_last_token_s = None  # failed before the first token
        rows.append({**r.to_dict(), "mode": "stream", "prompt_id": "p", "perceived_wait_s": None})
    h = headlines(pd.DataFrame(rows))[0]
    assert h.ttft.n == 0 and h.n_streamed == 3
    assert ttft_n_caption(h.ttft.n, h.n_streamed) == "n=0 (3 streamed requests, none reached a first token)"
    assert ttft_n_caption(0, 0) == "n=0 (no streamed request)"


@pytest.mark.browser
def test_benchmark_page_runs_its_load_in_a_child_process_in_chromium(server: Any, tmp_path: Path, browser: Any) -> None:
    """Under `streamlit run`: Start spawns the child, the page follows it to the end, the summary shows."""
    deps = tmp_path / "deployments.toml"
    deps.write_text('[[deployments]]\nname = "sim-bpage"\nprovider = "simulated"\nttft_ms = 40\ntokens_per_s = 500\noutput_tokens = 10\n')
    env = {**os.environ, "STREAMING_DB": str(tmp_path / "b.db"), "STREAMING_DEPLOYMENTS": str(deps), "STREAMING_SERVER_URL": server.url}
    page_file = str(Path(PAGE).parent / "benchmark.py")
    with streamlit_app(page_file, env, str(tmp_path / "streamlit.log")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            page.get_by_text("Press Start", exact=False).wait_for(timeout=60_000)
            page.locator('[data-testid="stMultiSelect"]').first.click()
            page.get_by_role("option", name="sim-bpage (simulated)").click()
            page.keyboard.press("Escape")
            page.get_by_role("button", name="Start").click()
            page.get_by_text("finished: ", exact=False).wait_for(timeout=60_000)
            page.get_by_text("Sort by clicking a column", exact=False).wait_for(timeout=10_000)  # the summary table (a grid: no DOM text)
            page.locator('[data-testid="stDataFrame"]').last.wait_for(timeout=10_000)
            page.screenshot(path=str(tmp_path / "benchmark.png"), full_page=True)
        finally:
            page.close()
    runs = store.list_runs(tmp_path / "b.db")
    assert len(runs) == 1 and runs.iloc[0]["status"] == "finished" and set(runs.iloc[0]["deployments"]) == {"sim-fast", "sim-bpage"}
    print(tmp_path / "benchmark.png")


def test_metrics_page_shows_retry_inclusive_figures_when_a_request_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the Metrics page: the percentile table gains TTFT and e2e incl. retries when any request retried."""
    from streaming.core.record import Attempt

    rng = np.random.default_rng(2)
    with store.Store(tmp_path / "r.db") as s:
        run = s.create_run("bench", {})
        for i in range(6):
            r = make_record("sim-fast", True, rng, 0.0, idx=i)
            r.ttft_incl_retries_s, r.e2e_incl_retries_s = r.ttft_s, r.e2e_s
            if i % 2:
                r.retries, r.retry_wait_s = 1, 0.5
                r.attempts = [Attempt(1, 0.0, 0.01, "error", 429, "http_429", "rate limited", None, 0.5)]
                r.ttft_incl_retries_s, r.e2e_incl_retries_s = r.ttft_s + 0.51, r.e2e_s + 0.51
            s.add_record(run, r, prompt_id=f"p{i}", mode="stream")
        s.finish_run(run)
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "r.db"))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    table = [d.value for d in at.dataframe if "p99" in d.value.columns][0]
    assert {"TTFT (ms)", "TTFT incl. retries (ms)", "end-to-end incl. retries (ms)"} <= set(table["metric"])
    rec = make_record("sim-fast", True, rng, idx=9)
    rec.retries, rec.retry_wait_s, rec.ttft_incl_retries_s, rec.e2e_incl_retries_s = 1, 0.5, 0.8, 1.2
    assert "TTFT incl. retries 800 ms" in rec.summary_line() and "e2e incl. retries 1200 ms" in rec.summary_line()
