"""The forms on the pages (AppTest): out-of-bounds numbers block the run with a sentence, what runs is what is shown,
and every built-in deployment passes its own Deployments check (reasoning ones included)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from streamlit.testing.v1 import AppTest

from streaming import store
from streaming.core.config import BUILTINS

PAGES = Path(__file__).resolve().parents[2] / "pages"
BAD = [("repeats", 0, "Repeats"), ("concurrency", 0, "Concurrency"), ("rate", -2.0, "Rate"), ("max_tokens", 100_000, "Max tokens"),
       ("warmup", 50, "Warmup requests"), ("requests", -3, "Total requests")]  # fmt: skip


@pytest.fixture
def env(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("STREAMING_DEPLOYMENTS", raising=False)
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "forms.db"))
    monkeypatch.setenv("STREAMING_SERVER_URL", server.url)
    return tmp_path / "forms.db"


def click_start(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Start").click()
    at.run()


@pytest.mark.parametrize(("key", "value", "label"), BAD)
def test_benchmark_out_of_bounds_value_blocks_the_run(env: Path, key: str, value: float, label: str) -> None:
    at = AppTest.from_file(str(PAGES / "benchmark.py"), default_timeout=30).run()
    assert any("requests in" in c.value for c in at.caption)  # the preview of the default matrix
    at.number_input(key=key).set_value(value).run()
    assert not at.exception
    assert at.number_input(key=key).value == value  # the widget holds what was typed, not the last valid value
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith(f"{label} must be") and f"it is {value:g}" in errors[0]
    assert not any("requests in" in c.value for c in at.caption)  # no preview of other values
    assert any(c.value.endswith("Nothing will run until this is fixed.") for c in at.caption)
    click_start(at)
    assert "bench_job" not in at.session_state and "bench_pending" not in at.session_state
    assert any(w.value.startswith("Not started") for w in at.warning)
    assert not env.exists() or store.list_runs(str(env)).empty


def test_benchmark_valid_run_stores_what_the_screen_shows(env: Path) -> None:
    at = AppTest.from_file(str(PAGES / "benchmark.py"), default_timeout=30).run()
    shown = {"repeats": 2, "requests": 5, "concurrency": 3, "rate": 4.5, "max_tokens": 40, "warmup": 0}
    at.number_input(key="concurrency").set_value(0).run()  # an invalid value first: it must not linger
    for k, v in shown.items():
        at.number_input(key=k).set_value(v).run()
    assert not at.error
    click_start(at)
    job = at.session_state["bench_job"]
    assert job.wait(60)
    with sqlite3.connect(env) as db:
        (raw,) = db.execute("SELECT config FROM runs WHERE id = ?", (job.run_id,)).fetchone()
    stored = orjson.loads(raw)
    assert {k: stored[k] for k in shown} == shown


def test_arena_max_tokens_zero_blocks_the_turn(env: Path) -> None:
    at = AppTest.from_file(str(PAGES / "arena.py"), default_timeout=30).run()
    at.number_input(key="arena_max_tokens").set_value(0).run()
    assert not at.exception and at.number_input(key="arena_max_tokens").value == 0
    assert [e.value for e in at.error] == ["Max tokens must be a whole number from 1 to 32768; it is 0. Change it, and nothing is sent until then."]
    assert at.chat_input(key="arena_prompt").disabled  # nothing can be sent
    assert "arena_running" not in at.session_state


def test_arena_reasoning_lane_answers_with_the_default_budget(env: Path) -> None:
    at = AppTest.from_file(str(PAGES / "arena.py"), default_timeout=60).run()
    at.multiselect(key="arena_deps").set_value(["sim-fast", "sim-reasoning"]).run()
    assert any("Reasoning lanes get 2048 max tokens" in c.value for c in at.caption)
    at.chat_input(key="arena_prompt").set_value("Why stream tokens?").run()
    assert not at.exception
    lanes = {lane["label"]: lane for lane in at.session_state["arena_last"]["lanes"]}
    for label, lane in lanes.items():
        assert lane["record"]["status"] == "ok" and lane["text"], label
    assert not at.error


@pytest.mark.parametrize("name", [pytest.param(d.name, marks=pytest.mark.model) if d.provider == "local" else d.name for d in BUILTINS])
def test_every_builtin_passes_its_own_check(env: Path, name: str) -> None:
    at = AppTest.from_file(str(PAGES / "deployments.py"), default_timeout=120).run()
    at.selectbox(key="check_deployment").set_value(name).run()
    at.button(key="check").click().run()
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert [s.value for s in at.success] == ["It answered."]
