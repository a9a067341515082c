"""The Deployments page's "Inspect a stream" panel through AppTest: a live request and a pasted capture."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

PAGE = str(Path(__file__).resolve().parent.parent.parent / "pages" / "deployments.py")
REASONING_SSE = (
    'data: {"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}\n\n'
    'data: {"id":"c1","choices":[{"index":0,"delta":{"reasoning_content":"thinking"},"finish_reason":null}]}\n\n'
    ": keep-alive\n\n"
    'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"Hola"},"finish_reason":"stop"}]}\n\n'
    "data: [DONE]\n\n"
)


@pytest.fixture
def page(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    deps = tmp_path / "deployments.toml"
    deps.write_text('[[deployments]]\nname = "sim-quick"\nprovider = "simulated"\nttft_ms = 30\ntokens_per_s = 400\noutput_tokens = 12\n')
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "p.db"))
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    assert not at.exception
    return at


def test_live_inspection_of_a_builtin_deployment(page: AppTest) -> None:
    page.selectbox(key="inspect_deployment").set_value("sim-quick")
    page.button(key="inspect_go").click().run()
    assert not page.exception and not page.error
    table = page.dataframe[-1].value
    kinds = list(table["client's reading"])
    assert kinds[0] == "role" and any("← TTFT" in k for k in kinds) and kinds[-1] == "done"
    ttft_row = next(i for i, k in enumerate(kinds) if "← TTFT" in k)
    assert table["t (ms)"].iloc[ttft_row] > 0 and kinds[ttft_row].startswith("visible")
    summary = page.code[-1].value
    assert f"set by event #{ttft_row}" in summary and "end: status ok" in summary


def test_pasted_capture_with_reasoning(page: AppTest) -> None:
    page.text_area(key="inspect_paste").set_value(REASONING_SSE)
    page.button(key="inspect_go").click().run()
    assert not page.exception and not page.error
    kinds = list(page.dataframe[-1].value["client's reading"])
    assert kinds == ["role", "reasoning  ← first reasoning", "comment (ignored)", "visible, finish: stop  ← TTFT", "done"]
    assert "first reasoning untimed, set by event #1" in page.code[-1].value


def test_bad_capture_is_one_sentence(page: AppTest) -> None:
    page.text_area(key="inspect_paste").set_value("hello, not a stream")
    page.button(key="inspect_go").click().run()
    assert not page.exception
    assert [e.value for e in page.error] == ["Nothing to inspect: pasted body: the file is neither an SSE body (no 'data:' line) nor a HAR file"]
