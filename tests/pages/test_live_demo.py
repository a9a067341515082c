"""The demo page's logic through Streamlit's AppTest, against the real built-in server (simulated deployments)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")
DEPLOYMENTS = """
[[deployments]]
name = "sim-test"
provider = "simulated"
ttft_ms = 30
tokens_per_s = 400
output_tokens = 20

[[deployments]]
name = "sim-drop"
provider = "simulated"
ttft_ms = 30
tokens_per_s = 400
output_tokens = 20
faults = [{kind = "drop", every = 1, after_tokens = 3}]

[[deployments]]
name = "needs-key"
provider = "compatible"
base_url = "http://127.0.0.1:9/v1"
model = "m"
api_key_env = "STREAMING_TEST_MISSING_KEY"
"""


@pytest.fixture
def app(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    deps = tmp_path / "deployments.toml"
    deps.write_text(DEPLOYMENTS)
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    monkeypatch.delenv("STREAMING_TEST_MISSING_KEY", raising=False)
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    return at


def send(at: AppTest, prompt: str, deployment: str = "sim-test") -> AppTest:
    at.sidebar.selectbox(key="deployment").set_value(deployment).run()
    at.chat_input(key="prompt").set_value(prompt).run()
    assert not at.exception, at.exception
    return at


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.caption]


def test_a_turn_records_metrics_and_is_saved(app: AppTest, tmp_path: Path) -> None:
    send(app, "What is streaming?")
    history = app.session_state["history"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    msg = history[-1]
    assert msg["status"] == "ok" and msg["content"]
    rec = msg["record"]
    assert rec["ttft_s"] and rec["e2e_s"] >= rec["ttft_s"] and rec["output_tokens"] == 20 and rec["finish_reason"] == "stop"
    line = next(c for c in captions(app) if c.startswith("done"))
    for part in ("TTFT", "tok/s", "20 output tokens", "e2e", "finish_reason stop", "sim-test", "temperature 0.7"):
        assert part in line
    assert any(msg["content"] == m.value for m in app.markdown)
    with sqlite3.connect(tmp_path / "demo.db") as db:
        rows = db.execute("SELECT r.tag, r.deployment, r.status, runs.kind FROM requests r JOIN runs ON runs.id = r.run_id").fetchall()
    assert rows == [("demo", "sim-test", "ok", "demo")]


def test_an_error_turn_keeps_partial_text(app: AppTest) -> None:
    send(app, "hello", deployment="sim-drop")
    msg = app.session_state["history"][-1]
    assert msg["status"] == "interrupted"
    assert msg["content"] and len(msg["content"].split()) == 3  # dropped after 3 tokens
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "dropped" in errors[0] and "Request id: chatcmpl-" in errors[0]
    assert "Traceback" not in errors[0]
    assert any(c.startswith("interrupted") for c in captions(app))


def test_history_survives_reruns_and_clear_empties_it(app: AppTest) -> None:
    send(app, "first")
    send(app, "second", deployment="sim-drop")
    texts = [m["content"] for m in app.session_state["history"]]
    app.run()
    app.sidebar.slider(key="temperature").set_value(1.2).run()
    assert [m["content"] for m in app.session_state["history"]] == texts
    shown = [m.value for m in app.markdown]
    assert all(t in shown for t in texts)  # re-rendered from the history, partial answer included
    assert len(app.error) == 1  # the failed turn still says so
    app.sidebar.button(key="clear").click().run()
    assert app.session_state["history"] == []


def test_race_view_shows_both_waits(app: AppTest) -> None:
    app.sidebar.toggle(key="race").set_value(True).run()
    send(app, "race")
    msg = app.session_state["history"][-1]
    assert msg["kind"] == "race" and msg["record"]["stream"] and not msg["plain_record"]["stream"]
    assert msg["content"] and msg["plain_content"]
    metrics = {m.label: m.value for m in app.metric}
    assert set(metrics) == {"Streaming: first words after", "Non-streaming: whole answer after", "Non-streaming user waits"}
    assert metrics["Non-streaming user waits"].endswith("× longer")
    app.run()  # and it renders again from the history
    assert len(app.metric) == 3


def test_completions_mode(app: AppTest) -> None:
    app.sidebar.selectbox(key="deployment").set_value("sim-test").run()  # first: a newly picked deployment starts on its own API
    app.sidebar.radio(key="api").set_value("completions").run()
    send(app, "Once upon a time")
    rec = app.session_state["history"][-1]["record"]
    assert rec["api"] == "completions" and rec["status"] == "ok"


def test_missing_key_is_one_sentence(app: AppTest) -> None:
    send(app, "hi", deployment="needs-key")
    errors = [e.value for e in app.error]
    assert len(errors) == 1 and "STREAMING_TEST_MISSING_KEY is not set" in errors[0]
    assert app.session_state["history"][-1]["role"] == "user"


def test_bad_deployments_file_is_a_clear_error(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "deployments.toml"
    bad.write_text('[[deployments]]\nname = "x"\nprovider = "nope"\n')
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(bad))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    err = " ".join(e.value for e in at.sidebar.error)
    assert "field 'provider'" in err and "only the built-ins" in err
    assert "sim-fast (simulated)" in at.sidebar.selectbox(key="deployment").options


def test_deployments_page_lists_and_checks_without_showing_keys(app: AppTest, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_TEST_MISSING_KEY", "sk-secret-value-123")
    page = AppTest.from_file(str(Path(APP).parent / "pages" / "deployments.py"), default_timeout=30).run()
    assert not page.exception
    table = page.dataframe[0].value
    assert set(table["name"]) >= {"local", "sim-fast", "sim-test", "needs-key"}
    assert "STREAMING_TEST_MISSING_KEY: set" in set(table["key"])
    assert not table.astype(str).apply(lambda col: col.str.contains("sk-secret")).any().any()
    page.selectbox(key="check_deployment").set_value("sim-test")
    page.button(key="check").click().run()
    assert not page.exception and [s.value for s in page.success] == ["It answered."]
    assert page.main.caption[-1].value.startswith("done · TTFT")


def test_reasoning_deployment_effort_select_and_thinking(app: AppTest) -> None:
    app.sidebar.selectbox(key="deployment").set_value("sim-reasoning").run()
    assert not [s for s in app.sidebar.slider if s.key == "temperature"]  # reasoning models take an effort, not a temperature
    app.sidebar.selectbox(key="reasoning_effort").set_value("low").run()
    app.sidebar.radio(key="api").set_value("responses").run()
    send(app, "why stream?", deployment="sim-reasoning")
    rec = app.session_state["history"][-1]["record"]
    assert rec["status"] == "ok" and rec["api"] == "responses" and rec["reasoning_effort"] == "low"
    assert rec["reasoning_tokens"] == 60 and rec["t_first_reasoning_s"] < rec["ttft_s"] and rec["reasoning_text"]
    line = next(c for c in captions(app) if c.startswith("done"))
    for part in ("first reasoning", "TTFT", "thinking", "60 reasoning tokens", "visible tok/s", "effort low"):
        assert part in line, line
    assert any(e.label.startswith("Thought for") for e in app.expander)  # collapsed once the answer came


def test_race_on_a_reasoning_deployment(app: AppTest) -> None:
    app.sidebar.selectbox(key="deployment").set_value("sim-reasoning").run()
    app.sidebar.toggle(key="race").set_value(True).run()
    send(app, "race", deployment="sim-reasoning")
    msg = app.session_state["history"][-1]
    assert msg["record"]["status"] == "ok" and msg["plain_record"]["status"] == "ok"
    assert msg["record"]["reasoning_tokens"] == 120 and msg["plain_record"]["reasoning_tokens"] == 120
    assert len(app.metric) == 3
