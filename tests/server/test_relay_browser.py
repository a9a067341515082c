"""The chat page (GET /) in headless Chromium: streams through the relay, Stop closes the upstream, the key travels."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import http_get
from playwright.sync_api import Browser, Page

from streaming.server.launcher import ServerHandle, free_port, start_server

pytestmark = pytest.mark.browser
KEY = "browser-test-key-0815"


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1100, "height": 800})
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    # a 401 from the keyed server is expected once (the page then asks for the key); anything else is a bug or a CSP violation
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" and "status of 401" not in m.text else None)
    yield pg
    ctx.close()
    assert not errors, errors  # no script errors, no CSP violations


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMING_SERVER_API_KEY", KEY)
        handle = start_server(port=free_port(), log_dir=str(tmp_path_factory.mktemp("keyed-browser")))
    yield handle
    handle.stop()


def answer_len(page: Page) -> int:
    return int(page.evaluate("() => document.getElementById('answer').textContent.length"))


def wait_longer_than(page: Page, n: int, timeout_ms: int = 10_000) -> int:
    page.wait_for_function("n => document.getElementById('answer').textContent.length > n", arg=n, timeout=timeout_ms)
    return answer_len(page)


def truth(url: str, rid: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = http_get(f"{url}/debug/truth/{rid}", headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_page_streams_in_steps_and_stop_closes_the_upstream(server: ServerHandle, page: Page, tmp_path: Path) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("#deployment option[value='sim-slow']", state="attached")
    assert "sim-slow (simulated)" in page.inner_text("#deployment")
    page.select_option("#deployment", "sim-slow")  # ~800 ms TTFT, 25 tokens/s, 80 tokens: about 4 s
    page.fill("#max_tokens", "80")
    page.fill("#prompt", "Tell me about streaming.")
    page.click("#send")
    assert page.is_disabled("#send") and page.is_enabled("#stop")  # Send is locked while streaming
    page.wait_for_function("() => document.getElementById('m-ttft-live').textContent.endsWith('…')", timeout=5_000)  # live TTFT counter

    seen = [wait_longer_than(page, 0)]
    assert page.get_attribute("body", "data-state") == "streaming"
    assert page.is_visible("#cursor")
    for _ in range(3):
        seen.append(wait_longer_than(page, seen[-1]))
    assert seen == sorted(set(seen)) and len(seen) == 4  # the text grew in (at least) four separate steps
    assert page.inner_text("#m-ttft-live").endswith(" ms")
    rid = page.get_attribute("body", "data-response-id")
    assert rid and rid.startswith("chatcmpl-")

    page.click("#stop")
    page.wait_for_function("() => document.body.dataset.state === 'stopped'", timeout=5_000)
    stopped_len = answer_len(page)
    assert page.is_enabled("#send") and page.is_disabled("#stop") and not page.is_visible("#cursor")
    assert page.inner_text("#status") == "Stopped."
    page.screenshot(path=str(tmp_path / "relay-chat-stopped.png"), full_page=True)
    assert (tmp_path / "relay-chat-stopped.png").stat().st_size > 1000

    deadline = time.monotonic() + 5
    while (t := truth(server.url, rid))["cancelled_at"] is None:  # the server saw the upstream closed
        assert time.monotonic() < deadline, t
        time.sleep(0.05)
    assert t["finished_at"] is None and t["tokens_generated"] < 80
    assert answer_len(page) == stopped_len  # nothing arrives after Stop


def test_page_sends_the_key_from_the_fragment_and_shows_final_metrics(keyed_server: ServerHandle, page: Page, tmp_path: Path) -> None:
    page.goto(keyed_server.url + f"/#key={KEY}")
    page.wait_for_selector("#deployment option[value='sim-turbo']", state="attached")
    assert KEY not in page.url  # the key leaves the address bar; it stays in this tab's sessionStorage
    assert not page.is_visible("#keyrow")
    page.select_option("#deployment", "sim-turbo")
    page.fill("#max_tokens", "20")
    page.click("#send")
    page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=15_000)
    assert page.inner_text("#m-tokens") == "20"
    assert page.inner_text("#m-ttft").endswith(" ms") and page.inner_text("#m-e2e").endswith(" ms")
    assert float(page.inner_text("#m-tps")) > 0
    assert page.inner_text("#status").startswith("Done (length)")
    page.screenshot(path=str(tmp_path / "relay-chat-done.png"), full_page=True)

    # without the key the page says so in one sentence and offers the key box
    page.evaluate("() => sessionStorage.clear()")
    page.goto(keyed_server.url + "/")
    page.wait_for_selector("#keyrow", state="visible")
    assert page.inner_text("#status") == "This server needs its API key: enter it above."
    page.fill("#key", KEY)
    page.click("#savekey")
    page.wait_for_selector("#deployment option[value='sim-fast']", state="attached")
    assert not page.is_visible("#keyrow")


def test_page_shows_a_reasoning_model_thinking_then_its_answer(server: ServerHandle, page: Page, tmp_path: Path) -> None:
    page.goto(server.url + "/")
    page.wait_for_selector("#deployment option[value='sim-reasoning']", state="attached")
    page.select_option("#deployment", "sim-reasoning")
    page.select_option("#api", "responses")  # the Responses API streams the reasoning summary
    page.fill("#max_tokens", "1000")
    page.fill("#prompt", "Why does time to first token matter?")
    page.click("#send")
    page.wait_for_function("() => document.getElementById('thinking').textContent.startsWith('Thinking… **Planning')")
    assert answer_len(page) == 0  # thinking shows while nothing visible has come
    page.screenshot(path=str(tmp_path / "relay-thinking.png"))
    page.wait_for_function("() => document.body.dataset.state === 'done'", timeout=20_000)
    assert page.inner_text("#thinking").startswith("Thought for 0.")
    assert page.inner_text("#m-think").endswith(" ms") and answer_len(page) > 20
    page.screenshot(path=str(tmp_path / "relay-thought.png"))
