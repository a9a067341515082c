"""Replays in a real browser (headless Debian Chromium, `streamlit run app.py`): a replay of a recorded sim-slow run is
labelled in the sidebar, explained above the chat, and answers a recorded prompt with the recorded text at about the
recorded TTFT, captioned as a replay; a replay of a run that does not exist is a plain warning and a plain error, never a
traceback. Screenshots go under each test's tmp dir and are copied to /tmp/shots."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import streamlit_app
from playwright.sync_api import Page, expect

from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import find_deployment, load_deployments
from streaming.store import Store, load_requests
from streaming.store.recordings import load_recording

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp/shots")
PROMPTS = ["Why does streaming make a chat feel faster?", "What is time to first token?", "How do PTU and pay-as-you-go differ?"]
CRASH = "This app has encountered an error"


@pytest.fixture(scope="module")
def recorded(server: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A real streamed run on sim-slow (800 ms TTFT) in a fresh results DB, and a deployments file with two replays:
    one of that run, one of a run that does not exist."""
    tmp = tmp_path_factory.mktemp("browser-replay")
    db = (tmp / "results.db").resolve()
    with Store(db) as st:
        run = run_benchmark(BenchConfig(deployments=["sim-slow"], prompts=PROMPTS, mode="stream", max_tokens=16, concurrency=len(PROMPTS), warmup=0), st)
    (tmp / "deployments.toml").write_text(
        f'[[deployments]]\nname = "replay-slow"\nprovider = "replay"\nrun = "{run}"\ndb = "{db}"\n\n'
        f'[[deployments]]\nname = "replay-missing"\nprovider = "replay"\nrun = "no-such-run"\ndb = "{db}"\n'
    )
    env = dict(os.environ, STREAMING_DEPLOYMENTS=str(tmp / "deployments.toml"), STREAMING_DB=str(db), STREAMING_SERVER_URL=server.url)
    return {"db": db, "run": run, "env": env, "tmp": tmp}


@pytest.fixture(scope="module")
def app_url(recorded: dict[str, Any]) -> Iterator[str]:
    """One `streamlit run app.py` for the module (each test opens its own browser session)."""
    with streamlit_app("app.py", recorded["env"], str(recorded["tmp"] / "streamlit.log")) as url:
        yield url


def shoot(page: Page, tmp_path: Path, name: str) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / name)
    return path


def send(page: Page, prompt: str) -> None:
    box = page.locator('[data-testid="stChatInputTextArea"]')
    expect(box).to_be_enabled()
    box.fill(prompt)
    box.press("Enter")


def test_a_replay_answers_a_recorded_prompt_with_the_recorded_text_and_ttft(recorded: dict[str, Any], app_url: str, page: Page,
                                                                            tmp_path: Path) -> None:  # fmt: skip
    rows = load_requests(str(recorded["db"]), [recorded["run"]]).set_index("request_key")
    assert len(rows) == len(PROMPTS) and (rows["status"] == "ok").all()
    deps = load_deployments(recorded["env"]["STREAMING_DEPLOYMENTS"])
    recording = load_recording(find_deployment(deps, "replay-slow"))
    day = recording.recorded_at[:10]
    assert day == dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d")  # the store writes UTC times: recorded today
    label = f"replay of sim-slow (simulated, recorded {day})"
    assert recording.label == label
    prompt = PROMPTS[1]
    played = next(a for a in recording.answers if a.prompt == prompt)
    want = rows.loc[played.request_key]  # the recorded request that answered this prompt
    assert want["text"] == played.text and want["text"]

    page.goto(f"{app_url}/?deployment=replay-slow")
    select = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Deployment")
    expect(select).to_have_value(f"replay-slow — {label}")
    expect(page.locator('[data-testid="stSidebar"] [data-testid="stCaptionContainer"]', has_text=label)).to_be_visible()  # the whole label
    notice = page.locator('[data-testid="stAlert"]', has_text="is a replay of sim-slow")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(f"replay-slow is a {label}")

    send(page, prompt)
    answer = page.locator('[data-testid="stChatMessage"]').last
    metrics = answer.locator('[data-testid="stCaptionContainer"]', has_text="done · TTFT")
    expect(metrics).to_be_visible(timeout=20_000)
    body = answer.locator('[data-testid="stMarkdownContainer"]').first
    assert body.inner_text().strip() == str(want["text"]).strip()
    expect(answer.get_by_text(f"Replay of sim-slow (simulated, recorded {day}): the recorded answer at its recorded timings, "
                              "not a live measurement.")).to_be_visible()  # fmt: skip
    line = metrics.inner_text()
    m = re.search(r"TTFT (\d+) ms", line)
    assert m, line
    print(f"TTFT shown {m.group(1)} ms, recorded {float(want['ttft_s']) * 1e3:.1f} ms")
    # the page's TTFT is the app's client's, and holds Streamlit's own turn (a full run showed 59 ms over); the replay's
    # own accuracy is checked on the server's stamps (tests/server/test_replay.py). Not replaying the timings is 0.8 s off.
    assert abs(int(m.group(1)) / 1000 - float(want["ttft_s"])) < 0.1, (line, want["ttft_s"])
    assert "replay-slow" in line
    expect(page.get_by_text(CRASH)).to_have_count(0)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    shoot(page, tmp_path, "replay-in-demo.png")


def test_a_replay_of_a_missing_run_is_a_warning_and_a_plain_error(app_url: str, page: Page, tmp_path: Path) -> None:
    page.goto(f"{app_url}/?deployment=replay-missing")
    warning = page.locator('[data-testid="stAlert"]', has_text="cannot be replayed")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text("replay-missing cannot be replayed: field 'run': no run 'no-such-run'")
    select = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Deployment")
    expect(select).to_have_value("replay-missing — replay (not playable)")

    send(page, "What is time to first token?")
    error = page.locator('[data-testid="stAlert"]', has_text="The request was not sent")
    expect(error).to_contain_text("replay-missing cannot be replayed (see the note above)", timeout=20_000)
    expect(page.locator('[data-testid="stChatMessage"]')).to_have_count(0)  # refused before anything was sent or shown
    expect(page.get_by_text("the recorded answer at its recorded timings")).to_have_count(0)
    expect(page.get_by_text(CRASH)).to_have_count(0)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    assert "Traceback" not in page.content()
    shoot(page, tmp_path, "replay-missing.png")
