"""The benchmark page under AppTest: start a run, watch it finish, stop one, reject bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from streaming.server.launcher import ServerHandle
from streaming.store import list_runs, load_requests

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "benchmark.py")
DEPLOYMENTS = """
[[deployments]]
name = "sim-page"
provider = "simulated"
ttft_ms = 20
tokens_per_s = 1000
output_tokens = 10

[[deployments]]
name = "sim-page-slow"
provider = "simulated"
ttft_ms = 150
tokens_per_s = 200
output_tokens = 10
"""


@pytest.fixture
def page_env(server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    deps = tmp_path / "deployments.toml"
    deps.write_text(DEPLOYMENTS)
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "page.db"))
    yield tmp_path / "page.db"


def start(at: AppTest, deployment: str, **numbers: float) -> None:
    at.multiselect(key="deployments").set_value([deployment])
    for key, value in numbers.items():
        at.number_input(key=key).set_value(value)
    next(b for b in at.button if b.label == "Start").click()
    at.run()


def run_until_done(at: AppTest, limit_s: float = 60) -> None:
    deadline = time.monotonic() + limit_s
    job = at.session_state["bench_job"]
    while not job.wait(0.2):  # poll the page while the job runs, as the fragment does in a browser
        at.run()
        assert time.monotonic() < deadline, "the benchmark did not finish"
    at.run()
    at.run()  # the fragment's full rerun after the end


def test_start_runs_to_the_end_and_shows_results(page_env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    assert "Press Start" in at.info[0].value or "press Start" in at.info[0].value
    start(at, "sim-page", repeats=1, requests=6, concurrency=3, warmup=0)
    assert not at.exception and "bench_job" in at.session_state
    run_until_done(at)
    assert not at.exception
    job = at.session_state["bench_job"]
    assert job.error is None and job.progress.phase == "finished"
    assert any("6/6" in m.value for m in at.metric)
    assert any(s.value.startswith(f"Run {job.run_id} finished: 6 requests, 0 errors") for s in at.success)
    table = at.dataframe[-1].value  # a sortable table in ms and tok/s, the run id whole in a code block
    assert list(table["deployment"]) == ["sim-page", "sim-page"] and "TTFT p50 (ms)" in table.columns and "tok/s p50" in table.columns
    assert table["TTFT p50 (ms)"].dropna().between(1, 1000).all()
    assert any(c.value == job.run_id for c in at.code)
    assert len(at.get("plotly_chart")) == 1
    # the link to the metrics page (a caption when the page runs outside st.navigation, as here)
    assert at.get("page_link") or any("Metrics page" in c.value for c in at.caption)
    df = load_requests(page_env, [job.run_id])
    assert len(df) == 6 and (df["status"] == "ok").all() and set(df["mode"]) == {"stream", "non-stream"}
    assert next(b for b in at.button if b.label == "Start").disabled is False  # Start is back once it ended


def test_stop_keeps_a_partial_run(page_env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    start(at, "sim-page-slow", requests=60, concurrency=2, warmup=0)
    job = at.session_state["bench_job"]
    deadline = time.monotonic() + 30
    while (job.progress is None or job.progress.done < 2) and time.monotonic() < deadline:
        job.wait(0.1)
    assert job.progress is not None and job.progress.done >= 2
    at.run()
    at.button(key="stop").click().run()
    assert any("Stopping" in i.value for i in at.info)
    run_until_done(at)
    runs = list_runs(page_env)
    assert runs.iloc[0]["run_id"] == job.run_id and runs.iloc[0]["status"] == "stopped"
    assert 2 <= runs.iloc[0]["n_requests"] < 60
    assert not at.success and any("stopped" in w.value for w in at.warning)  # not a green box


def test_bad_temperature_is_one_sentence(page_env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.text_input(key="temperatures").set_value("hot")
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    assert not at.exception
    assert at.error[0].value == "Temperatures: 'hot' is not a temperature; write numbers from 0 to 2 or 'default', e.g. 0, 0.7 (comma-separated), or 'default'"
    assert "bench_job" not in at.session_state
    for typed, said in (("", "Temperatures: give at least one temperature"), ("0, 3", "Temperatures: 3 is outside 0 to 2")):
        at.text_input(key="temperatures").set_value(typed).run()
        assert at.error[0].value.startswith(said) and "--" not in at.error[0].value  # the page's label, not the CLI's flag


def test_inside_the_app_navigation_it_links_to_the_metrics_page(page_env: Path) -> None:
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=30).run()
    at.switch_page("pages/benchmark.py").run()
    assert not at.exception
    start(at, "sim-page", requests=2, warmup=0)
    run_until_done(at)
    assert not at.exception
    links = at.get("page_link")
    assert len(links) == 1 and links[0].proto.page == "metrics" and links[0].proto.label == "Open its metrics"


def test_the_load_runs_in_a_child_process_and_stop_keeps_what_finished(page_env: Path) -> None:
    """The page's process runs no load (no shared GIL, no process-wide gc.freeze); progress comes over a pipe."""
    import os
    import sqlite3

    at = AppTest.from_file(PAGE, default_timeout=30).run()
    start(at, "sim-page-slow", requests=60, concurrency=2, warmup=0)
    job = at.session_state["bench_job"]
    deadline = time.monotonic() + 30
    while (job.progress is None or job.progress.done < 3) and time.monotonic() < deadline:
        job.wait(0.1)
    assert job.progress is not None and job.progress.done >= 3 and len(job.progress.points) == job.progress.done
    job.stop()
    assert job.wait(30) and job.error is None
    with sqlite3.connect(page_env) as db:
        pid, status = db.execute("SELECT pid, status FROM runs WHERE id = ?", (job.run_id,)).fetchone()
    assert pid == job.pid and pid != os.getpid()  # measured in the child
    assert status == "stopped" and job.progress.phase == "stopped"
    df = load_requests(page_env, [job.run_id])
    assert 3 <= len(df) < 60 and (df["status"] == "ok").all() and len(job.progress.points) >= 3


def test_preview_counts_requests_and_estimates_the_duration(page_env: Path) -> None:
    """Before Start, the request count and an estimated duration, following every change."""
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="deployments").set_value(["sim-page-slow"]).run()
    at.number_input(key="requests").set_value(40).run()
    at.number_input(key="concurrency").set_value(4).run()
    line = next(c.value for c in at.caption if "requests in" in c.value)
    # 40 requests of 150 ms + 10 tokens / 200 tok/s = 0.2 s each, 4 at a time: 2 s, plus 1 warmup of 0.2 s
    assert "40 requests in 2 cells, plus 1 warmup; about 2 s." in line, line
    at.text_input(key="temperatures").set_value("0, 1").run()
    assert any("40 requests in 4 cells" in c.value for c in at.caption)
    at.text_input(key="temperatures").set_value("hot").run()
    assert at.error[0].value.startswith("Temperatures: 'hot' is not a temperature")  # said at once, before Start


def test_the_form_keeps_its_values_when_the_page_is_left(page_env: Path) -> None:
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=30).run()
    at.switch_page("pages/benchmark.py").run()
    at.multiselect(key="deployments").set_value(["sim-page-slow"]).run()
    at.number_input(key="concurrency").set_value(3).run()
    at.text_input(key="temperatures").set_value("0, 0.7").run()
    at.radio(key="mode").set_value("stream").run()
    at.switch_page("app.py").run()
    assert "concurrency" not in at.session_state  # Streamlit dropped the widget's own state
    at.switch_page("pages/benchmark.py").run()
    assert not at.exception
    assert at.multiselect(key="deployments").value == ["sim-page-slow"]
    assert at.number_input(key="concurrency").value == 3
    assert at.text_input(key="temperatures").value == "0, 0.7"
    assert at.radio(key="mode").value == "stream"


def test_apis_and_efforts_survive_a_run_and_a_page_switch_and_start_is_off_while_running(page_env: Path) -> None:
    at = AppTest.from_file(str(Path(PAGE).parent.parent / "app.py"), default_timeout=30).run()
    at.switch_page("pages/benchmark.py").run()
    at.multiselect(key="apis").set_value(["responses"])
    at.multiselect(key="efforts").set_value(["low"])
    at.radio(key="mode").set_value("stream")
    start(at, "sim-reasoning", requests=1, concurrency=1, warmup=0, max_tokens=600)
    assert not at.exception and not at.session_state["bench_job"].done
    assert next(b for b in at.button if b.label == "Start").disabled  # drawn off at once, not only after the run
    run_until_done(at)
    assert not at.exception and next(b for b in at.button if b.label == "Start").disabled is False
    assert any(x.value.endswith("finished: 1 request, 0 errors.") for x in at.success)  # not "1 requests"
    assert all(d.proto.placeholder == "—" for d in at.dataframe)  # a missing value reads "—", not "None"
    assert at.multiselect(key="apis").value == ["responses"] and at.multiselect(key="efforts").value == ["low"]
    at.switch_page("app.py").run()
    at.switch_page("pages/benchmark.py").run()
    assert not at.exception
    assert at.multiselect(key="apis").value == ["responses"] and at.multiselect(key="efforts").value == ["low"]


def test_apis_and_reasoning_efforts_are_matrix_dimensions(page_env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="apis").set_value(["chat", "responses"])
    at.multiselect(key="efforts").set_value(["low", "high"])
    at.text_input(key="temperatures").set_value("default")
    at.radio(key="mode").set_value("stream")
    start(at, "sim-reasoning", repeats=1, requests=8, concurrency=4, warmup=0, max_tokens=600)
    run_until_done(at)
    assert not at.exception
    df = load_requests(page_env, [at.session_state["bench_job"].run_id])
    assert len(df) == 8 and (df["status"] == "ok").all()
    assert set(zip(df["api"], df["reasoning_effort"])) == {(a, e) for a in ("chat", "responses") for e in ("low", "high")}


def test_a_killed_benchmark_process_is_named_with_its_signal_and_log_and_keeps_what_finished(page_env: Path) -> None:
    import os
    import signal

    at = AppTest.from_file(PAGE, default_timeout=30).run()
    start(at, "sim-page-slow", requests=200, concurrency=2, warmup=0)
    job = at.session_state["bench_job"]
    deadline = time.monotonic() + 30
    while (job.progress is None or job.progress.done < 3) and time.monotonic() < deadline:
        job.wait(0.1)
    assert job.pid is not None
    os.kill(job.pid, signal.SIGKILL)
    run_until_done(at)
    assert not at.exception
    assert job.error is not None and "ended unexpectedly (SIGKILL)" in job.error and job.log_path in job.error
    assert os.path.isfile(job.log_path)
    assert any(job.error in e.value for e in at.error)  # said on the page, in one box
    runs = list_runs(page_env)
    assert runs.iloc[0]["status"] == "interrupted" and 3 <= runs.iloc[0]["n_requests"] < 200


def test_a_run_stopped_before_any_answer_shows_no_empty_chart_and_no_success(page_env: Path) -> None:
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    start(at, "sim-page-slow", requests=60, concurrency=2, warmup=0)
    at.button(key="stop").click().run()  # at once: the child is still starting
    run_until_done(at)
    job = at.session_state["bench_job"]
    assert not at.exception and job.progress is not None and job.progress.done == 0
    assert not at.get("plotly_chart")  # no axes from −1 to 5 around nothing
    assert not at.success and any("stopped" in w.value for w in at.warning)
