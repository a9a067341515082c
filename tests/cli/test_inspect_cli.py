"""``python -m streaming inspect``: text and JSON output, and exit code 2 with one sentence for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streaming.cli import main

AZURE = (
    b'{"choices":[],"id":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}',
    b'{"id":"c1","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
    b'{"id":"c1","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null,"content_filter_results":{}}]}',
    b'{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    b"[DONE]",
)


def write(tmp_path: Path, body: bytes) -> str:
    p = tmp_path / "capture.sse"
    p.write_bytes(body)
    return str(p)


def test_text_output_names_the_ttft_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--file", write(tmp_path, b"".join(b"data: " + d + b"\n\n" for d in AZURE))]) == 0
    out = capsys.readouterr().out
    assert "TTFT untimed, set by event #2" in out and "first reasoning: none streamed" in out
    assert "role, filter annotation" not in out.splitlines()[2]  # event 0 is the prompt-filter chunk
    assert "filter annotation" in out.splitlines()[2] and "role" in out.splitlines()[3]


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", "--json", "--file", write(tmp_path, b"".join(b"data: " + d + b"\n\n" for d in AZURE))]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["ttft_event"] == 2 and [e["kinds"] for e in d["events"]][-1] == ["done"]
    assert d["accounting"]["status"] == "ok" and d["record"]["text"] == "Hi"


@pytest.mark.parametrize(("argv", "words"), [
    (["inspect", "--file", "NOFILE"], "does not exist"),
    (["inspect", "--file", "NOTSSE"], "neither an SSE body"),
    (["inspect", "--file", "TRUNC"], "truncated"),
    (["inspect", "-d", "no-such-deployment", "hi"], "no-such-deployment"),
    (["inspect", "-d", "sim-fast"], "needs a PROMPT"),
], ids=["missing", "not-sse", "truncated", "unknown-deployment", "no-prompt"])  # fmt: skip
def test_bad_input_exit_2_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], words: str) -> None:
    (tmp_path / "NOTSSE").write_text("hello, world\n")
    (tmp_path / "TRUNC").write_bytes(b"data: " + AZURE[2] + b"\n\n")
    argv = [str(tmp_path / a) if a in ("NOFILE", "NOTSSE", "TRUNC") else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and words in err and len(err.splitlines()) == 1
