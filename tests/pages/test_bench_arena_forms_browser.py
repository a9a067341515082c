"""In Chromium (1400×1000): an out-of-bounds value in each Benchmark field and in the Arena's Max tokens
blocks the run with one sentence; a valid run stores what the screen showed."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import streamlit_app
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
LABELS = {"repeats": "Repeats", "requests": "Total requests (0: all prompts × repeats)", "concurrency": "Concurrency",
          "rate": "Rate, req/s (0: closed loop)", "max_tokens": "Max tokens", "warmup": "Warmup requests per deployment (stored apart)"}  # fmt: skip
BAD = {"repeats": ("0", "Repeats"), "requests": ("-3", "Total requests"), "concurrency": ("0", "Concurrency"), "rate": ("-2", "Rate"),
       "max_tokens": ("100000", "Max tokens"), "warmup": ("50", "Warmup requests")}  # fmt: skip


def env_for(server: Any, tmp: Path) -> dict[str, str]:
    env = dict(os.environ, STREAMING_DB=str(tmp / "b.db"), STREAMING_SERVER_URL=server.url)
    env.pop("STREAMING_DEPLOYMENTS", None)
    return env


def type_into(page: Page, label: str, value: str) -> None:
    box = page.get_by_label(label, exact=True)
    box.fill(value)
    box.press("Enter")


def test_benchmark_fields_block_bad_values_and_store_what_is_shown(server: Any, page: Page, tmp_path: Path) -> None:
    with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/benchmark")
        expect(page.get_by_text("requests in 2 cells").first).to_be_visible()
        for key, (value, label) in BAD.items():
            type_into(page, LABELS[key], value)
            alert = page.locator('[data-testid="stAlert"]', has_text=f"{label} must be")
            expect(alert).to_have_count(1)
            expect(alert).to_contain_text(f"it is {value}")
            expect(page.get_by_text("Nothing will run until this is fixed.")).to_be_visible()
            expect(page.get_by_text("requests in 2 cells")).to_have_count(0)  # no preview of the last valid values
            page.get_by_role("button", name="Start").click()
            expect(page.get_by_text("Not started: fix the field named above first.")).to_be_visible()
            page.screenshot(path=str(tmp_path / f"bench-bad-{key}.png"), full_page=True)
            type_into(page, LABELS[key], {"repeats": "1", "requests": "0", "concurrency": "8", "rate": "0", "max_tokens": "128", "warmup": "1"}[key])
            expect(page.get_by_text("requests in 2 cells").first).to_be_visible()
        shown = {"repeats": "2", "requests": "4", "concurrency": "3", "max_tokens": "40", "warmup": "0"}
        for key, value in shown.items():
            type_into(page, LABELS[key], value)
        expect(page.get_by_text("4 requests in 2 cells").first).to_be_visible()
        for key, value in shown.items():
            expect(page.get_by_label(LABELS[key], exact=True)).to_have_value(value)
        page.get_by_role("button", name="Start").click()
        expect(page.get_by_text("finished: 4 requests").first).to_be_visible(timeout=60_000)
        page.screenshot(path=str(tmp_path / "bench-valid-run.png"), full_page=True)
    with sqlite3.connect(tmp_path / "b.db") as db:
        rows = db.execute("SELECT config FROM runs WHERE kind = 'bench'").fetchall()
    assert len(rows) == 1  # the refused Starts sent nothing
    stored = orjson.loads(rows[0][0])
    assert {k: stored[k] for k in shown} == {k: int(v) for k, v in shown.items()} and stored["rate"] is None


def test_arena_max_tokens_zero_blocks_the_turn(server: Any, page: Page, tmp_path: Path) -> None:
    with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/arena")
        expect(page.get_by_role("heading", name="Arena")).to_be_visible()
        box = page.locator('[data-testid="stChatInputTextArea"]')
        expect(box).to_be_enabled()
        type_into(page, "Max tokens", "0")
        expect(page.locator('[data-testid="stAlert"]', has_text="Max tokens must be a whole number from 1 to 32768; it is 0.")).to_be_visible()
        expect(box).to_be_disabled()  # nothing can be sent
        page.screenshot(path=str(tmp_path / "arena-bad-max-tokens.png"), full_page=True)
        type_into(page, "Max tokens", "96")
        expect(box).to_be_enabled()
