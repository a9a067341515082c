"""ChatGPT-style actions in the demo, AppTest against the real built-in server: example prompts, Regenerate,
Edit-and-resend, Copy, and the chat coming back after a reload (a new session with ?chat=ID)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from streaming.demo.chats import EXAMPLE_PROMPTS, load_chat

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def at(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    (tmp_path / "deployments.toml").write_text('[[deployments]]\nname = "sim-act"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 2000\noutput_tokens = 15\n')
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(tmp_path / "deployments.toml"))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    app = AppTest.from_file(APP, default_timeout=30).run()
    app.sidebar.selectbox(key="deployment").set_value("sim-act").run()
    return app


def roles(at: AppTest) -> list[str]:
    return [m["role"] for m in at.session_state["history"]]


def test_example_prompts_on_the_empty_chat_send_themselves(at: AppTest) -> None:
    labels = [b.label for b in at.button if b.key and b.key.startswith("example-")]
    assert labels == list(EXAMPLE_PROMPTS)
    at.button(key="example-1").click().run()
    assert not at.exception
    h = at.session_state["history"]
    assert roles(at) == ["user", "assistant"] and h[0]["content"] == EXAMPLE_PROMPTS[1] and h[1]["status"] == "ok"
    assert h[1]["content"].startswith("Latency has three parts")  # the simulated answer picked from the prompt
    assert not [b for b in at.button if b.key and b.key.startswith("example-")]


def test_regenerate_replaces_the_last_answer(at: AppTest) -> None:
    at.chat_input(key="prompt").set_value("Why stream?").run()
    first = at.session_state["history"][-1]["record"]["response_id"]
    at.button(key="regen-2").click().run()
    assert not at.exception
    h = at.session_state["history"]
    assert roles(at) == ["user", "assistant"] and h[0]["content"] == "Why stream?"
    assert h[1]["status"] == "ok" and h[1]["record"]["response_id"] != first


def test_edit_and_resend_replaces_the_last_prompt(at: AppTest) -> None:
    at.chat_input(key="prompt").set_value("Why stream?").run()
    at.text_area(key="edit-text-2").set_value("How does cloud capacity work?").run()
    at.button(key="edit-send-2").click().run()
    assert not at.exception
    h = at.session_state["history"]
    assert roles(at) == ["user", "assistant"] and h[0]["content"] == "How does cloud capacity work?"
    assert h[1]["content"].startswith("Cloud computing delivers")


def test_copy_offers_the_answer_as_plain_text(at: AppTest) -> None:
    at.chat_input(key="prompt").set_value("Why stream?").run()
    answer = at.session_state["history"][-1]["content"]
    assert any(c.value == answer for c in at.code)  # st.code: a copy button in the browser


def test_the_chat_survives_a_reload(at: AppTest, tmp_path: Path) -> None:
    at.chat_input(key="prompt").set_value("Why stream?").run()
    cid = at.query_params["chat"]
    cid = cid[0] if isinstance(cid, list) else cid
    stored = load_chat(str(tmp_path / "demo.db"), cid)
    assert stored is not None and [m["role"] for m in stored] == ["user", "assistant"]
    fresh = AppTest.from_file(APP, default_timeout=30)  # a reload: a new session, the same URL
    fresh.query_params["chat"] = cid
    fresh.run()
    assert not fresh.exception
    h = fresh.session_state["history"]
    assert [m["content"] for m in h] == [m["content"] for m in at.session_state["history"]]
    assert any(m.value == h[1]["content"] for m in fresh.markdown)
