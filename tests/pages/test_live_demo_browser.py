"""The live demo in a real browser: headless Debian Chromium via playwright, `streamlit run app.py` on a free port.

Screenshots of each state are written under the test's tmp dir (printed on failure).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import streamlit_app
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = """
[[deployments]]
name = "sim-browser"
provider = "simulated"
ttft_ms = 800
tokens_per_s = 25
output_tokens = 40

[[deployments]]
name = "sim-long"
provider = "simulated"
ttft_ms = 100
tokens_per_s = 10
output_tokens = 600

[[deployments]]
name = "sim-reload"
provider = "simulated"
ttft_ms = 100
tokens_per_s = 10
output_tokens = 600
"""
# Records the text of the last chat message each time the DOM changes.
OBSERVER = """
() => {
  window.__frames = [];
  const last = () => {
    const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
    if (!msgs.length) return null;
    // the answer body: the first Markdown block that is not a caption (live line, metrics), an alert or a button
    const md = Array.from(msgs[msgs.length - 1].querySelectorAll('[data-testid="stMarkdownContainer"]'))
      .find(e => !e.closest('[data-testid="stCaptionContainer"], [data-testid="stAlert"], button'));
    return md ? md.innerText : null;
  };
  new MutationObserver(() => {
    const t = last();
    const f = window.__frames;
    if (t !== null && (f.length === 0 || f[f.length - 1].text !== t)) f.push({t: performance.now(), text: t});
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""
SAW_WAITING = """
() => {
  window.__sawWaiting = false;
  new MutationObserver(() => {
    if (!window.__sawWaiting && document.body.innerText.includes('waiting for first token')) window.__sawWaiting = true;
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}
"""


DEMO_DB: list[Path] = []  # the app's results database, for tests that check what a turn saved


@pytest.fixture(scope="module")
def app_url(server: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("browser-app")
    deps = tmp / "deployments.toml"
    deps.write_text(DEPLOYMENTS)
    env = dict(os.environ, STREAMING_DEPLOYMENTS=str(deps), STREAMING_DB=str(tmp / "demo.db"), STREAMING_SERVER_URL=server.url)
    DEMO_DB[:] = [tmp / "demo.db"]
    with streamlit_app("app.py", env, str(tmp / "streamlit.log")) as url:
        yield url


@pytest.fixture
def page(browser: Any, app_url: str) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


# A chat message's answer: its Markdown blocks that are not captions, alerts, buttons or the thinking expander.
ANSWER_JS = """m => Array.from(m.querySelectorAll('[data-testid="stMarkdownContainer"]'))
  .filter(e => !e.closest('[data-testid="stCaptionContainer"], [data-testid="stAlert"], button, [data-testid="stExpander"]'))
  .map(e => e.innerText.replace('▌', '')).join(' ')"""


def answer_text(msg: Any) -> str:
    return msg.evaluate(ANSWER_JS)


def open_demo(page: Page, url: str, deployment: str) -> None:
    page.goto(f"{url}/?deployment={deployment}")
    page.locator('[data-testid="stChatInputTextArea"]').wait_for()
    expect(page.get_by_text(f"{deployment} is simulated")).to_be_visible()


def submit(page: Page, prompt: str) -> None:
    box = page.locator('[data-testid="stChatInputTextArea"]')
    expect(box).to_be_enabled()
    box.fill(prompt)
    box.press("Enter")


def test_answer_streams_in_steps(page: Page, app_url: str, tmp_path: Path) -> None:
    open_demo(page, app_url, "sim-browser")
    page.screenshot(path=str(tmp_path / "1-empty.png"))
    page.evaluate(OBSERVER)
    page.evaluate(SAW_WAITING)
    submit(page, "Why does streaming matter?")
    # the waiting line lasts less than one TTFT: record it on every DOM change (polling can step over it)
    page.wait_for_function("() => window.__sawWaiting")
    page.screenshot(path=str(tmp_path / "2-waiting.png"))
    page.wait_for_function("() => window.__frames.length >= 3")
    page.screenshot(path=str(tmp_path / "3-streaming.png"))
    done = page.locator('[data-testid="stCaptionContainer"]', has_text="done · TTFT")
    expect(done).to_be_visible()
    page.screenshot(path=str(tmp_path / "4-done.png"), full_page=True)
    frames = page.evaluate("window.__frames")
    final = frames[-1]["text"]
    lengths = [len(f["text"].rstrip("▌")) for f in frames if f["text"] != "Why does streaming matter?"]
    growing = sorted({n for n in lengths if 0 < n < len(final)})
    assert len(growing) >= 3, frames  # the answer grew in ≥ 3 painted steps before it completed
    assert len(final.split()) == 40
    assert "sim-browser" in done.inner_text() and "40 output tokens" in done.inner_text()


def test_stop_keeps_partial_answer_marked_stopped(page: Page, app_url: str, tmp_path: Path) -> None:
    open_demo(page, app_url, "sim-long")
    page.evaluate(OBSERVER)
    submit(page, "Tell me a long story")
    page.wait_for_function("() => window.__frames.some(f => f.text.split(' ').length >= 6)")
    page.screenshot(path=str(tmp_path / "1-streaming.png"))
    page.get_by_role("button", name="■ Stop").click()
    expect(page.get_by_text("Stopped: the partial answer is kept.")).to_be_visible()
    caption = page.locator('[data-testid="stCaptionContainer"]', has_text="stopped · TTFT")
    expect(caption).to_be_visible()
    page.screenshot(path=str(tmp_path / "2-stopped.png"), full_page=True)
    msg = page.locator('[data-testid="stChatMessage"]').last
    words = msg.locator('[data-testid="stMarkdownContainer"]').first.inner_text().split()
    assert 6 <= len(words) < 600
    expect(page.locator('[data-testid="stChatInputTextArea"]')).to_be_enabled()
    # the stopped turn is saved, marked cancelled, with its partial text
    from streaming.store import load_requests

    saved = load_requests(DEMO_DB[0], tags=["demo"])
    saved = saved[saved["deployment"] == "sim-long"]
    assert len(saved) == 1, saved[["deployment", "status"]]
    row = saved.iloc[0]
    assert row["status"] == "cancelled" and row["ttft_s"] > 0 and 6 <= len(row["text"].split()) < 600
    assert row["text"].split()[:6] == words[:6]
    # Continue goes on from the last word shown, says so from its start, and calls the Stop a stop
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("button", name="■ Stop")).to_be_visible()
    expect(page.get_by_text("Continued from the stopped answer above")).to_be_visible()
    expect(page.get_by_role("button", name="■ Stop")).to_be_visible()  # still streaming: the marker came with its start
    page.wait_for_function("""() => { const m = document.querySelectorAll('[data-testid="stChatMessage"]');
      return m.length === 3 && (%s)(m[2]).trim().split(/\\s+/).length >= 4; }""" % ANSWER_JS)  # the continuation itself has 4 words
    page.get_by_role("button", name="■ Stop").click()
    expect(page.locator('[data-testid="stCaptionContainer"]', has_text="stopped · TTFT")).to_have_count(2)
    page.screenshot(path=str(tmp_path / "3-continued.png"), full_page=True)
    expect(page.get_by_text("interrupted")).to_have_count(0)
    more = answer_text(page.locator('[data-testid="stChatMessage"]').last).split()
    from streaming.server.sim import answer_words

    whole = answer_words("Tell me a long story", 600)  # the simulated answer: the continuation is its next words, not its start again
    assert len(more) >= 4 and more[:3] != words[:3]
    assert words + more == whole[: len(words) + len(more)], (words, more)


def test_race_view(page: Page, app_url: str, tmp_path: Path) -> None:
    open_demo(page, app_url, "sim-browser")
    page.get_by_text("Race: streaming vs non-streaming").click()
    expect(page.locator('[data-testid="stChatInputTextArea"]')).to_be_enabled()
    submit(page, "Race!")
    timer = page.get_by_text(re.compile(r"waiting for the whole answer… \d+\.\d s$"))
    expect(timer).to_be_visible()
    page.screenshot(path=str(tmp_path / "1-racing.png"), full_page=True)
    ratio = page.locator('[data-testid="stMetric"]', has_text="Non-streaming user waits")
    expect(ratio).to_be_visible()
    page.screenshot(path=str(tmp_path / "2-race-done.png"), full_page=True)
    assert "× longer" in ratio.inner_text()
    expect(page.locator('[data-testid="stMetric"]', has_text="Streaming: first words after")).to_be_visible()
    expect(timer).to_have_count(0)


def test_thinking_state_ticks_then_collapses(page: Page, app_url: str, tmp_path: Path) -> None:
    """sim-reasoning-slow (Responses, about 2 s of reasoning at medium effort): "Thinking… s" ticks with the summary open, then collapses."""
    page.goto(f"{app_url}/?deployment=sim-reasoning-slow")
    page.locator('[data-testid="stChatInputTextArea"]').wait_for()
    expect(page.get_by_text("Reasoning effort")).to_be_visible()
    submit(page, "Think first, then answer")
    thinking = page.locator('[data-testid="stExpander"]', has_text=re.compile(r"Thinking… \d+\.\d s"))
    expect(thinking).to_be_visible()
    page.wait_for_function("() => /Thinking… [1-9]\\.\\d s/.test(document.body.innerText)")  # it ticks past a second
    expect(thinking.get_by_text("Planning the answer")).to_be_visible()  # the summary streams into the open expander
    page.screenshot(path=str(tmp_path / "1-thinking.png"), full_page=True)
    done = page.locator('[data-testid="stCaptionContainer"]', has_text="done · first reasoning")
    expect(done).to_be_visible(timeout=30_000)
    page.screenshot(path=str(tmp_path / "2-answered.png"), full_page=True)
    expect(page.locator('[data-testid="stExpander"]', has_text="Thought for")).to_be_visible()
    expect(page.get_by_text(re.compile(r"Thinking… \d"))).to_have_count(0)
    for part in ("TTFT", "thinking", "reasoning tokens", "visible tok/s", "Responses API"):
        assert part in done.inner_text()
    # the same on the Chat Completions API, whose stream carries the thinking as delta.reasoning_content
    page.get_by_text("Chat", exact=True).click()
    expect(page.get_by_role("radio", name="Chat")).to_be_checked()
    submit(page, "And once more on chat")
    expect(thinking).to_be_visible()
    page.wait_for_function("() => /Thinking… [1-9]\\.\\d s/.test(document.body.innerText)")
    page.screenshot(path=str(tmp_path / "3-thinking-chat.png"), full_page=True)
    done = page.locator('[data-testid="stCaptionContainer"]', has_text="Chat Completions API")
    expect(done).to_be_visible(timeout=30_000)
    for part in ("done · first reasoning", "TTFT", "thinking", "reasoning tokens", "visible tok/s"):
        assert part in done.inner_text()
    expect(page.locator('[data-testid="stExpander"]', has_text="Thought for")).to_have_count(2)
    print("screenshots:", tmp_path)


def pick_deployment(page: Page, label: str) -> None:
    """Pick a deployment in the sidebar's picker, as a user does (not through the URL)."""
    picker = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Deployment")
    picker.click()
    page.get_by_role("option", name=label).click()
    expect(picker).to_have_value(label)


def test_reload_mid_answer_restores_the_question_and_the_partial_answer(page: Page, app_url: str, tmp_path: Path) -> None:
    page.goto(app_url)
    page.locator('[data-testid="stChatInputTextArea"]').wait_for()
    pick_deployment(page, "sim-reload (simulated)")
    expect(page.get_by_text("sim-reload is simulated")).to_be_visible()
    page.evaluate(OBSERVER)
    submit(page, "A long story about reloads")
    page.wait_for_function("() => window.__frames.some(f => f.text.split(' ').length >= 8)")
    seen = page.evaluate("window.__frames")[-1]["text"].rstrip("▌").split()
    page.screenshot(path=str(tmp_path / "1-streaming.png"))
    page.reload()  # mid-answer: a new session, the same URL
    msgs = page.locator('[data-testid="stChatMessage"]')
    expect(msgs.first).to_contain_text("A long story about reloads")  # the question is back
    expect(page.get_by_text("Stopped: the partial answer is kept.")).to_be_visible()  # and the partial answer, marked stopped
    expect(page.locator('[data-testid="stCaptionContainer"]', has_text="stopped · TTFT")).to_be_visible()
    page.screenshot(path=str(tmp_path / "2-reloaded.png"), full_page=True)
    answer = msgs.nth(1).locator('[data-testid="stMarkdownContainer"]').first.inner_text().split()
    assert len(answer) >= len(seen) - 1 and answer[:6] == seen[:6], (seen, answer)
    expect(page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Deployment")).to_have_value("sim-reload (simulated)")  # still picked
    expect(page.get_by_text("sim-reload is simulated")).to_be_visible()
    expect(page.get_by_role("button", name="Continue")).to_be_visible()
