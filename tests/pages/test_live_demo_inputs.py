"""The live demo (AppTest, real built-in server): bad input, long prompts, Continue, the legacy-completions label, the live line."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from streaming.demo.liveline import LiveLine
from streaming.demo.reader import LiveStats

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, str]:
    name = f"sim-i14-{uuid.uuid4().hex[:6]}"
    (tmp_path / "deployments.toml").write_text(
        f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 12\n'
        f'[[deployments]]\nname = "{name}-drop"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 12\n'
        'faults = [{kind = "drop", every = 1, after_tokens = 4}]\n'
    )
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(tmp_path / "deployments.toml"))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.sidebar.selectbox(key="deployment").set_value(name).run()
    return at, name


def saved(tmp_path: Path) -> int:
    if not (tmp_path / "demo.db").exists():
        return 0
    with sqlite3.connect(tmp_path / "demo.db") as db:
        return db.execute("SELECT count(*) FROM requests").fetchone()[0]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_whitespace_prompt_is_refused_with_a_sentence(app: tuple[AppTest, str], tmp_path: Path) -> None:
    at, _ = app
    at.chat_input(key="prompt").set_value("   \n\t ").run()
    assert not at.exception
    assert at.session_state["history"] == []
    assert any(e.startswith("The prompt is empty") for e in errors(at))
    assert saved(tmp_path) == 0


@pytest.mark.parametrize("value", [0, -5, 5000])
def test_max_tokens_out_of_range_is_refused_not_replaced(app: tuple[AppTest, str], tmp_path: Path, value: int) -> None:
    at, _ = app
    at.sidebar.number_input(key="max_tokens").set_value(value).run()
    assert any(f"Max tokens is {value}" in e for e in errors(at))  # said in the sidebar at once
    at.chat_input(key="prompt").set_value("What is latency?").run()
    assert not at.exception
    assert at.session_state["history"] == [] and saved(tmp_path) == 0
    assert any(f"Max tokens is {value}; it must be a whole number from 1 to 4096" in e and "Nothing was sent" in e for e in errors(at))
    at.sidebar.number_input(key="max_tokens").set_value(7).run()
    at.chat_input(key="prompt").set_value("What is latency?").run()
    rec = at.session_state["history"][-1]["record"]
    assert rec["max_tokens"] == 7 and rec["output_tokens"] == 7 and rec["finish_reason"] == "length"


def test_a_50k_character_prompt_is_folded_with_its_size_in_tokens(app: tuple[AppTest, str]) -> None:
    at, _ = app
    long = ("Streaming latency matters to users of cloud AI services. " * 900)[:50_000]
    at.chat_input(key="prompt").set_value(long).run()
    assert not at.exception and at.session_state["history"][0]["content"] == long  # sent whole, shown folded
    assert all(len(m.value) < 2_000 for m in at.markdown)
    size = next(c.value for c in at.caption if c.value.startswith("Long prompt"))
    assert "50,000 characters" in size and "tokens" in size
    assert at.expander and at.expander[0].label == "Show the whole prompt"
    assert at.session_state["history"][-1]["status"] == "ok"


def test_legacy_completions_answers_are_labelled(app: tuple[AppTest, str]) -> None:
    at, _ = app
    at.sidebar.radio(key="api").set_value("completions").run()
    at.chat_input(key="prompt").set_value("Once upon a time").run()
    assert at.session_state["history"][-1]["record"]["api"] == "completions"
    assert any(c.value.startswith("Legacy completions API") for c in at.caption)
    at.run()  # and on every rerun
    assert any(c.value.startswith("Legacy completions API") for c in at.caption)


def test_one_continue_button_and_the_caption_at_once(app: tuple[AppTest, str]) -> None:
    at, name = app
    at.sidebar.selectbox(key="deployment").set_value(f"{name}-drop").run()
    at.chat_input(key="prompt").set_value("Why stream?").run()
    history = at.session_state["history"]
    assert history[-1]["status"] == "interrupted"
    at.button(key=f"continue-{len(history)}").click().run()  # the resumed answer drops too
    assert not at.exception
    assert at.session_state["history"][-1]["record"]["resume_of"]
    assert len([b for b in at.button if b.key and b.key.startswith("continue-")]) == 1
    assert any(c.value.startswith("Continued from the interrupted answer") for c in at.caption)  # in the same run


def test_continue_is_offered_after_a_stop(app: tuple[AppTest, str], server: Any) -> None:
    """A real stopped answer (cancelled mid-stream over HTTP) put in the chat: Continue is offered under it."""
    import time

    from streaming.core.client import Client
    from streaming.core.config import BUILTINS
    from streaming.core.request import LLMRequest
    from streaming.demo.reader import ThreadedReader

    at, _ = app
    with Client(list(BUILTINS), server_url=server.url) as c:
        r = ThreadedReader(c.stream("sim-slow", LLMRequest.chat("Why stream?", max_tokens=80))).start()
        while r.stats().tokens < 3:
            time.sleep(0.05)
        r.cancel()
        rec = r.join(10)
    assert rec.status == "cancelled" and rec.text
    at.session_state["history"] = [{"role": "user", "content": "Why stream?"},
                                   {"role": "assistant", "kind": "chat", "content": rec.text, "record": rec.to_dict(), "status": "cancelled"}]  # fmt: skip
    at.run()
    assert [b.key for b in at.button if b.key and b.key.startswith("continue-")] == ["continue-2"]


def test_live_line_changes_as_soon_as_text_shows() -> None:
    line = LiveLine(every_s=0.25)
    assert line.due(LiveStats(0.2, None, 0, None, False), shown=False, ticked=True)
    assert "waiting for first token" in LiveLine.text(LiveStats(0.2, None, 0, None, False))
    assert ":material/hourglass_top:" in LiveLine.text(LiveStats(0.2, None, 0, None, False)) and "⏳" not in LiveLine.text(LiveStats(0.2, None, 0, None, False))
    text = LiveStats(0.21, 0.205, 3, None, False)
    assert line.due(text, shown=True)  # 10 ms after the last write, but text is on screen now
    assert "waiting" not in LiveLine.text(text) and "TTFT 205 ms" in LiveLine.text(text)
    assert not line.due(LiveStats(0.3, 0.205, 9, 60.0, False), shown=True)  # then at most every 0.25 s
    assert line.due(LiveStats(0.47, 0.205, 20, 60.0, False), shown=True)


def test_each_deployment_starts_at_its_own_budget_when_picked(app: tuple[AppTest, str]) -> None:
    """A reasoning deployment gets room to think, `local` a budget its short answers end well before; a pick resets it."""
    at = app[0]
    box = lambda: at.sidebar.number_input(key="max_tokens").value  # noqa: E731
    at.sidebar.selectbox(key="deployment").set_value("sim-reasoning").run()
    assert box() == 1024
    at.sidebar.number_input(key="max_tokens").set_value(300).run()
    assert box() == 300  # the user's own value stays while the deployment does
    at.sidebar.selectbox(key="deployment").set_value("local").run()
    assert box() == 160
    at.sidebar.selectbox(key="deployment").set_value("sim-fast").run()
    assert box() == 256
