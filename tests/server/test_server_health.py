"""The built-in server's health line and restart: GET /health through the launcher, a real restart on the same URL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import http_get
from streamlit.testing.v1 import AppTest

from streaming.server import launcher
from streaming.server.health import ServerHealth, server_health

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_health_line_of_a_running_server(server: Any) -> None:
    h = server_health(server.url)
    assert h.up and h.worker_state in ("running", "stopped", "starting")
    assert h.line().startswith(f"Built-in server up at {server.url} · local model")
    assert "restarted" in h.line()


def test_a_server_that_does_not_answer() -> None:
    h = server_health(f"http://127.0.0.1:{launcher.free_port()}", timeout=0.5)
    assert not h.up and "not answering" in h.line() and "Restart it below" in h.line()
    assert ServerHealth("u", True, "disabled", None, 3, 1).line().endswith("restarted 4 times (server 1, model worker 3)")


@pytest.mark.slow
def test_restart_server_starts_it_again_on_the_same_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STREAMING_SERVER_URL", raising=False)
    h = launcher.start_server(port=launcher.free_port(), log_dir=str(tmp_path))
    monkeypatch.setattr(launcher, "_current", h)
    try:
        pid = http_get(h.url + "/health").json()["pid"]
        before = launcher.restarts()
        new = launcher.restart_server()
        assert new.url == h.url and launcher.restarts() == before + 1
        assert http_get(new.url + "/health").json()["pid"] != pid
        assert server_health(new.url).server_restarts == before + 1
    finally:
        launcher._current.stop()  # type: ignore[union-attr]


def test_restart_refuses_a_server_it_did_not_start(server: Any) -> None:
    with pytest.raises(Exception, match="started by another process"):
        launcher.restart_server()


def test_demo_sidebar_shows_the_health_line_and_the_button(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "d.db"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert any("Built-in server up at" in c.value for c in at.sidebar.caption)
    at.sidebar.button(key="restart_server").click().run()
    assert not at.exception
    assert any(e.value.startswith("Not restarted: this built-in server was started by another process") for e in at.sidebar.error)
