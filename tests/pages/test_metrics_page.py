"""The metrics page: AppTest on a small database made through the store, the empty state's quick benchmark, and a real browser."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import streamlit_app
from metrics_frames import METRICS_PAGE as PAGE
from metrics_frames import chart_specs, db, make_db, make_record, text_of  # noqa: F401 - db is a fixture
from streamlit.testing.v1 import AppTest

from streaming import store
from streaming.server.launcher import ServerHandle


def test_page_shows_headline_table_compare_and_export(db: tuple[Path, str]) -> None:
    _, run_id = db
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert at.multiselect(key="runs").value == [run_id]  # the latest bench run by default
    names = [m.label for m in at.metric]
    assert names.count("median TTFT") == 3 and names.count("non-stream / stream wait") == 3
    assert "sim-slow (simulated)" in text_of(at)
    assert "107 requests selected (1 failed" not in text_of(at) and "108 requests selected (1 failed" in text_of(at)
    assert "a non-streaming user waits" in text_of(at)
    table = [d.value for d in at.dataframe if "p99" in d.value.columns][0]
    assert {"p50", "p90", "p95", "p99", "n"} <= set(table.columns) and table["p99"].str.contains("≈max").all()
    assert "prompts (paired)" in text_of(at) and "paired t-test over prompts" in text_of(at)  # the compare sentence, on prompts
    assert [b.proto.label for b in at.get("download_button")] == ["Download the filtered rows (CSV)", "Download the HTML report"]

    at.multiselect(key="f_dep").set_value(["sim-slow"]).run()
    assert not at.exception and "36 requests selected (0 failed" in text_of(at)
    assert [m.label for m in at.metric].count("median TTFT") == 1

    at.multiselect(key="f_dep").set_value([]).run()
    at.radio(key="cmp_by").set_value("cells (deployment · temperature · mode)").run()
    at.selectbox(key="cmp_a").set_value("sim-fast (simulated) · T=0 · stream").run()
    at.selectbox(key="cmp_b").set_value("sim-slow (simulated) · T=0 · stream").run()
    sentence = [m.value for m in at.markdown if "t-test" in m.value][0]
    assert "sim-slow (simulated) · T=0 · stream" in sentence and "higher than" in sentence and "statistically significant" in sentence


def chart_titles(at: AppTest) -> list[str]:
    return [spec["layout"]["title"]["text"] for spec in chart_specs(at)]


def test_only_the_open_chart_tab_is_drawn(db: tuple[Path, str]) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert [t.label for t in at.get("tab")][:2] == ["TTFT", "e2e & tokens/s"]
    drawn = chart_titles(at)
    assert "TTFT (s) by deployment" in drawn and "TTFT (s): ECDF by deployment" in drawn
    assert not [t for t in drawn if t.startswith(("Errors", "Token timeline", "e2e"))]  # the other tabs are built when opened
    at.session_state["chart_tab"] = "Errors"
    at.run()
    drawn = chart_titles(at)
    assert not at.exception and "Errors, retries and 429s over time" in drawn and "TTFT (s) by deployment" not in drawn
    at.session_state["chart_tab"] = "Token timeline"
    at.run()
    assert at.multiselect(key="tl_ids").value == [] and any(t.startswith("Token timeline") for t in chart_titles(at))
    first = at.multiselect(key="tl_ids").options[0]
    at.multiselect(key="tl_ids").set_value([first]).run()
    assert not at.exception and any(t.startswith("Token timeline") for t in chart_titles(at))


def test_a_tab_switch_reuses_the_tables_and_a_filter_recomputes_them(db: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming.analysis import tables

    calls: list[int] = []
    real = tables.percentile_table
    monkeypatch.setattr(tables, "percentile_table", lambda view, *a, **k: calls.append(len(view)) or real(view, *a, **k))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and calls == [108]
    at.session_state["chart_tab"] = "Errors"
    at.run()
    at.number_input(key="stall").set_value(300).run()
    assert not at.exception and calls == [108]  # the same rows: the cached table
    at.multiselect(key="f_dep").set_value(["sim-slow"]).run()
    assert not at.exception and calls == [108, 36]


def test_demo_run_can_be_picked(db: tuple[Path, str]) -> None:
    path, _ = db
    runs = store.list_runs(path)
    demo = runs[runs["tag"] == "demo"]["run_id"].iloc[0]
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="runs").set_value([demo]).run()
    assert not at.exception and "1 request selected (0 failed" in text_of(at)


def stopped_db(path: Path) -> None:
    """sim-fast: 6 answered, 1 failed, 2 stopped by the user (cancelled after a first token); sim-slow: a single answered request."""
    rng = np.random.default_rng(1)
    t = datetime(2026, 1, 1, 10, tzinfo=UTC)
    statuses = [("sim-fast", "ok")] * 6 + [("sim-fast", "error"), ("sim-fast", "cancelled"), ("sim-fast", "cancelled"), ("sim-slow", "ok")]
    with store.Store(path) as s:
        run_id = s.create_run("bench", {"test": True}, deployments=["sim-fast", "sim-slow"])
        s.add_records(run_id, [(make_record(dep, True, rng, 0.0, status=st, started=t + timedelta(seconds=i), idx=i),
                                {"seq": i, "prompt_id": f"p{i % 3}", "prompt_size": "short", "mode": "stream"})
                               for i, (dep, st) in enumerate(statuses)])  # fmt: skip
        s.finish_run(run_id)


def test_stopped_requests_are_not_failures_and_one_request_has_no_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streaming.analysis.tables import summarize

    stopped_db(tmp_path / "s.db")
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "s.db"))
    row = summarize(store.load_requests(tmp_path / "s.db", store.list_runs(tmp_path / "s.db")["run_id"].tolist())).set_index("deployment").loc["sim-fast"]
    assert (row["n"], row["ok"], row["errors"], row["stopped"]) == (9, 6, 1, 2) and row["error_rate"] == pytest.approx(1 / 7)
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "10 requests selected (1 failed, 2 stopped by the user;" in text_of(at)
    card = next(c for c in at.caption if c.value.startswith("9 requests"))
    assert card.value == "9 requests, 1 failed, 2 stopped" and "not failures" in card.proto.help
    assert any(c.value == "1 request, 0 failed" for c in at.caption)  # not "1 requests"
    single = next(c for c in at.caption if c.value.startswith("95 % CI") and c.value.endswith("n=1"))
    assert single.value == "95 % CI — · n=1" and "at least 2" in single.proto.help  # no zero-width "CI" from one request
    table = next(d.value for d in at.dataframe if "p50" in d.value.columns)
    slow = table[table["deployment"] == "sim-slow"]
    assert len(slow) and slow["p50"].str.contains(r"\[—\]").all() and not table["p50"].str.contains("nan").any()
    assert not [m.value for m in at.markdown if "None" in m.value]  # no stray "None" anywhere on the page
    for d in at.dataframe:  # a missing value reads "—", never "None"; headers in words, not snake_case
        assert d.proto.placeholder == "—" and not [c for c in d.value.columns if "_" in str(c)], list(d.value.columns)
    assert {"requests/s", "output tokens/s", "span (s)"} <= set(next(d.value for d in at.dataframe if "workers" in d.value.columns).columns)
    at.multiselect(key="f_dep").set_value(["sim-slow"]).run()
    assert "1 request selected (0 failed;" in text_of(at)


def test_empty_state_runs_a_quick_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, server: ServerHandle) -> None:
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "empty.db"))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception and "No results yet" in at.info[0].value
    at.button(key="quick").click().run(timeout=120)
    assert not at.exception
    runs = store.list_runs(tmp_path / "empty.db")
    assert len(runs) == 1 and int(runs["n_requests"].iloc[0]) == 3 * 2 * 2 * 2 * 2
    assert [m.label for m in at.metric].count("median TTFT") == 3


@pytest.mark.browser
def test_page_in_chromium(db: tuple[Path, str], tmp_path: Path, browser: Any) -> None:
    path, _ = db
    env = {**os.environ, "STREAMING_DB": str(path)}
    with streamlit_app(PAGE, env, str(tmp_path / "streamlit.log")) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(url + "/")
            page.get_by_text("Percentiles", exact=True).wait_for(timeout=60_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
            assert page.get_by_text("sim-turbo (simulated)").count() >= 1
            page.screenshot(path=str(tmp_path / "metrics.png"), full_page=True)
        finally:
            page.close()
    assert (tmp_path / "metrics.png").stat().st_size > 20_000
