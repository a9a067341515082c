"""In a real browser (headless Debian Chromium, `streamlit run app.py`): the deep link, Metrics with a failed
connection, the Benchmark form's preview, and the live line. Screenshots go under each test's tmp dir."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from conftest import streamlit_app
from playwright.sync_api import Page, expect

from streaming import store
from streaming.core.client import Client
from streaming.core.config import load_deployments
from streaming.core.request import LLMRequest, RetryPolicy

pytestmark = pytest.mark.browser
DEPLOYMENTS = """
[[deployments]]
name = "sim-i14"
provider = "simulated"
ttft_ms = 800
tokens_per_s = 30
output_tokens = 40

[[deployments]]
name = "nowhere"
provider = "compatible"
base_url = "http://127.0.0.1:9/v1"
model = "m"
"""
# Each DOM change: the last answer's text and its live line, to catch "waiting" under text already shown.
OBSERVER = """
() => {
  window.__pairs = [];
  new MutationObserver(() => {
    const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (msgs.length < 2) return;
    const m = msgs[msgs.length - 1];
    const md = Array.from(m.querySelectorAll('[data-testid="stMarkdownContainer"]'))
      .find(e => !e.closest('[data-testid="stCaptionContainer"], [data-testid="stAlert"], button'));
    const caps = Array.from(m.querySelectorAll('[data-testid="stCaptionContainer"]')).map(c => c.innerText).join(' | ');
    window.__pairs.push({text: md ? md.innerText.replace('▌', '').trim() : '', line: caps});
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


@pytest.fixture(scope="module")
def env(server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A results database with a real run: sim answers and a connection refused on loopback (no HTTP status)."""
    tmp = tmp_path_factory.mktemp("browser-i14")
    (tmp / "deployments.toml").write_text(DEPLOYMENTS)
    db = str(tmp / "results.db")
    deps = load_deployments(str(tmp / "deployments.toml"))
    with Client(list(deps), server_url=server.url, retry=RetryPolicy(max_retries=0)) as c, store.Store(db) as s:
        run = s.create_run("bench")
        for i, name in enumerate(["sim-fast", "nowhere", "sim-fast", "sim-fast", "nowhere", "sim-fast"]):
            s.add_record(run, c.run(name, LLMRequest.chat(f"What is latency? ({i})", max_tokens=12)))
        s.finish_run(run)
    return dict(os.environ, STREAMING_DEPLOYMENTS=str(tmp / "deployments.toml"), STREAMING_DB=db, STREAMING_SERVER_URL=server.url)


# Installed before the app's scripts run: when each thing first shows (performance.now(), from the navigation's start).
FIRST_PAINT = """
(() => {
  window.__paint = {};
  const stamp = (k) => { if (!(k in window.__paint)) window.__paint[k] = performance.now(); };
  new MutationObserver(() => {
    const nav = document.querySelector('[data-testid="stSidebarNav"]');
    if (nav && nav.innerText.trim()) {
      stamp('raw_nav');  // any navigation: Streamlit's own from the pages/ file names comes first on a fresh process
      if (nav.innerText.includes('Live demo')) stamp('proper_nav');
    }
    const h1 = document.querySelector('h1');
    if (h1 && h1.innerText.includes('Benchmark')) stamp('title');
    if (document.body && document.body.innerText.includes('Runs deployments')) stamp('body');  // the page past its imports
  }).observe(document, {subtree: true, childList: true, characterData: true});
})();
"""


def test_deep_link_to_benchmark_gets_the_shared_sidebar_and_the_preview(env: dict[str, str], page: Page, tmp_path: Path) -> None:
    page.add_init_script(FIRST_PAINT)
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log")) as url:  # a fresh app: /benchmark is its first request
        page.goto(f"{url}/benchmark")
        page.wait_for_function("() => 'body' in window.__paint && 'proper_nav' in window.__paint && 'title' in window.__paint", timeout=60_000)
        marks = page.evaluate("window.__paint")
        print("first paint (s from navigation start):", {k: round(v / 1000, 2) for k, v in sorted(marks.items(), key=lambda kv: kv[1])})
        # the titled navigation and the title come first; the page's own imports follow (they used to come first, under the raw navigation)
        raw_shown = marks["proper_nav"] - marks.get("raw_nav", marks["proper_nav"])
        assert raw_shown < marks["body"] - marks["proper_nav"], marks
        assert marks["title"] < marks["body"], marks
        expect(page.get_by_role("heading", name="Benchmark")).to_be_visible()
        nav = page.locator('[data-testid="stSidebarNav"]')
        expect(nav.get_by_text("Live demo")).to_be_visible()  # the titled navigation, not file names
        expect(nav.get_by_text("app", exact=True)).to_have_count(0)
        expect(page.locator('[data-testid="stSidebar"]').get_by_text("Listening on")).to_be_visible()  # the shared sidebar
        expect(page.locator('[data-testid="stSidebar"]').get_by_role("heading", name="Deployment")).to_have_count(0)  # the demo's picker is not
        preview = page.get_by_text("requests in 2 cells")
        expect(preview).to_be_visible()
        page.get_by_label("Concurrency").fill("2")
        page.get_by_label("Concurrency").press("Enter")
        expect(page.get_by_text("requests in 2 cells")).to_contain_text("about")
        page.screenshot(path=str(tmp_path / "benchmark-form-preview.png"), full_page=True)


def test_metrics_page_with_a_failed_connection_run(env: dict[str, str], page: Page, tmp_path: Path) -> None:
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/metrics")
        expect(page.get_by_role("heading", name="Metrics")).to_be_visible()  # first, before the page's imports
        expect(page.get_by_role("heading", name="Charts")).to_be_visible(timeout=30_000)  # a fresh process imports the analysis stack first
        expect(page.get_by_text("6 requests selected (2 failed")).to_be_visible()
        page.get_by_role("tab", name="Errors").click()
        expect(page.locator(".js-plotly-plot").last).to_be_visible()
        for heading in ("Percentiles", "Compare", "Export"):  # what the crash used to take away
            expect(page.get_by_role("heading", name=heading)).to_be_visible()
        expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
        page.get_by_role("tab", name="Errors").scroll_into_view_if_needed()
        page.screenshot(path=str(tmp_path / "metrics-failed-connection.png"), full_page=True)
        with page.expect_download() as dl:  # the HTML report, built when clicked
            page.get_by_role("button", name="Download the HTML report").click()
        html = Path(dl.value.path()).read_text()
        assert html.startswith("<!DOCTYPE html>") and "nowhere" in html and "sim-fast" in html and "Errors, retries and 429s" in html


def test_live_line_never_says_waiting_under_text(env: dict[str, str], page: Page, tmp_path: Path) -> None:
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/?deployment=sim-i14")
        box = page.locator('[data-testid="stChatInputTextArea"]')
        box.wait_for()
        page.evaluate(OBSERVER)
        box.fill("Why does streaming matter?")
        box.press("Enter")
        # the waiting line lasts about one TTFT: poll every frame (expect's back-off can step over it)
        page.wait_for_function("() => document.body.innerText.includes('waiting for first token')", polling="raf")
        page.screenshot(path=str(tmp_path / "live-waiting.png"))
        expect(page.locator('[data-testid="stCaptionContainer"]', has_text="done · TTFT")).to_be_visible()
        pairs = page.evaluate("window.__pairs")
        with_text = [p for p in pairs if p["text"]]
        assert with_text and any("waiting for first token" in p["line"] for p in pairs)
        assert not [p for p in with_text if "waiting for first token" in p["line"]], with_text[:3]
        assert "⏳" not in page.content()


ARENA_LANES = """
[[deployments]]
name = "lane-a"
provider = "simulated"
ttft_ms = 100
tokens_per_s = 12
output_tokens = 300

[[deployments]]
name = "lane-b"
provider = "simulated"
ttft_ms = 600
tokens_per_s = 6
output_tokens = 300
"""


def test_arena_mid_stream_and_stop_all(server: Any, page: Page, tmp_path: Path) -> None:
    (tmp_path / "deployments.toml").write_text(ARENA_LANES)
    env = dict(os.environ, STREAMING_DEPLOYMENTS=str(tmp_path / "deployments.toml"), STREAMING_DB=str(tmp_path / "a.db"), STREAMING_SERVER_URL=server.url)
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/arena?lanes=lane-a,lane-b")
        expect(page.get_by_role("heading", name="Arena")).to_be_visible()
        expect(page.locator('[data-testid="stMultiSelect"]')).to_contain_text("lane-a (simulated)")
        expect(page.locator('[data-testid="stMultiSelect"]')).to_contain_text("lane-b (simulated)")
        box = page.locator('[data-testid="stChatInputTextArea"]')
        expect(box).to_be_enabled()
        box.fill("How do cloud regions change latency?")
        box.press("Enter")
        line = page.locator('[data-testid="stMarkdownContainer"]', has_text="First token:")
        expect(line).to_contain_text("lane-a", timeout=15_000)
        expect(line).to_contain_text("lane-b", timeout=15_000)  # both lanes have text: mid-stream
        expect(page.get_by_text(" · streaming…").first).to_be_visible()
        page.screenshot(path=str(tmp_path / "arena-mid-stream.png"), full_page=True)
        page.get_by_role("button", name="■ Stop all").click()
        expect(page.get_by_text("Stopped: the partial answer is kept.")).to_have_count(2, timeout=15_000)  # every lane stopped
        expect(page.get_by_text("Finished: nobody yet")).to_be_visible()
        expect(page.locator('[data-testid="stCaptionContainer"]', has_text="· stopped ·")).to_have_count(2)
        expect(page.get_by_text("Display a Mermaid diagram.")).to_have_count(0)  # no stray st.write of an element (magic)
        page.screenshot(path=str(tmp_path / "arena-stopped.png"), full_page=True)
