"""The Live demo's sidebar through AppTest (real built-in server): the API choice follows the picked deployment and is
named under the answer; a reasoning model's chat stream shows its thinking; the picker lives on the Live demo only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def at(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.delenv("STREAMING_DEPLOYMENTS", raising=False)
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    app = AppTest.from_file(APP, default_timeout=30).run()
    assert not app.exception
    return app


def pick(at: AppTest, name: str) -> AppTest:
    at.sidebar.selectbox(key="deployment").set_value(name).run()
    assert not at.exception, at.exception
    return at


def api(at: AppTest) -> tuple[str, list[str]]:
    r = at.sidebar.radio(key="api")
    return r.value, list(r.options)


def test_the_api_choice_follows_the_deployment_and_is_named_under_the_answer(at: AppTest) -> None:
    pick(at, "sim-reasoning-slow")
    assert api(at) == ("responses", ["Chat", "Responses"])  # its own API; no legacy completions for a reasoning model
    pick(at, "sim-fast")
    assert api(at)[0] == "chat"  # the Responses choice did not carry over
    at.sidebar.radio(key="api").set_value("completions").run()
    pick(at, "sim-reasoning")
    assert api(at) == ("chat", ["Chat", "Responses"])
    pick(at, "local")
    assert api(at) == ("chat", ["Chat", "Completions (legacy)"])  # a base model has no Responses API
    pick(at, "sim-fast")
    at.sidebar.radio(key="api").set_value("responses").run()
    at.chat_input(key="prompt").set_value("Why stream?").run()
    assert not at.exception
    line = next(c.value for c in at.caption if c.value.startswith("done"))
    assert "· sim-fast · Responses API ·" in line, line


def test_a_reasoning_model_on_the_chat_api_shows_its_thinking_and_its_figures(at: AppTest) -> None:
    pick(at, "sim-reasoning")
    assert api(at)[0] == "chat"  # its default API
    at.chat_input(key="prompt").set_value("Why does time to first token matter?").run()
    assert not at.exception
    rec = at.session_state["history"][-1]["record"]
    assert rec["status"] == "ok" and rec["api"] == "chat" and rec["reasoning_text"].startswith("**Planning the answer**")
    assert 0 < rec["t_first_reasoning_s"] < rec["ttft_s"] and rec["reasoning_tokens"] == 120
    line = next(c.value for c in at.caption if c.value.startswith("done"))
    for part in ("first reasoning", "TTFT", "thinking", "120 reasoning tokens", "visible tok/s", "Chat Completions API"):
        assert part in line, line
    assert any(e.label.startswith("Thought for") for e in at.expander)


def test_the_picker_is_only_where_it_is_used_and_keeps_its_pick(at: AppTest) -> None:
    pick(at, "sim-slow")
    assert at.query_params["deployment"] in ("sim-slow", ["sim-slow"])  # a reload keeps the pick
    for page in ("pages/metrics.py", "pages/deployments.py", "pages/benchmark.py", "pages/arena.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)
        assert not [s for s in at.sidebar.selectbox if s.key == "deployment"], page
        assert "Deployment" not in [m.value.lstrip("# ") for m in at.sidebar.markdown], page
    at.switch_page("pages/live_demo.py").run()
    assert at.sidebar.selectbox(key="deployment").value == "sim-slow"  # back on the demo: the same pick
