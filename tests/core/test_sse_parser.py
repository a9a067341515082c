"""The SSE parsers, Python (streaming/sse.py) and the page's JavaScript (static/sse.js under node), fed split at every byte."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from streaming.core.sse import SSEDecoder, SSEEvent

SSE_JS = Path(__file__).resolve().parents[2] / "streaming" / "server" / "static" / "sse.js"


def ev(data: str, event: str = "message", id: str | None = None) -> dict[str, Any]:
    return {"data": data, "event": event, "id": id}


# (stream bytes, the events it must give, comments included). Ground truth written by hand, not derived from either parser.
CASES: dict[str, tuple[bytes, list[dict[str, Any]]]] = {
    "relay_format": (
        b'event: meta\ndata: {"response_id": "chatcmpl-1"}\n\n'
        b'data: {"content": "Hel"}\n\ndata: {"content": "lo"}\n\n'
        b": hb\n\n"
        b'data: {"done": true, "finish_reason": "stop"}\n\ndata: [DONE]\n\n',
        [ev('{"response_id": "chatcmpl-1"}', "meta"), ev('{"content": "Hel"}'), ev('{"content": "lo"}'), {"comment": "hb"},
         ev('{"done": true, "finish_reason": "stop"}'), ev("[DONE]")],
    ),  # fmt: skip
    "crlf_multiline_comments_utf8": (
        b": heartbeat\r\n\r\n"
        b'event: meta\r\ndata: {"a": 1}\r\n\r\n'
        b"data: line one\r\ndata: line two\r\ndata:\r\n\r\n"
        b"data: caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac\n\n"
        b"id: 7\rdata:no-space\r\r"
        b':   spaced comment\n event: ignored-field\ndata: {"message": "x"}\nevent: error\n\n'
        b"retry: 10\nunknown\n\n"
        b"data: [DONE]\r\n\r\n",
        [{"comment": "heartbeat"}, ev('{"a": 1}', "meta"), ev("line one\nline two\n"), ev("caf\u00e9 \U0001f600 \u20ac"),
         ev("no-space", id="7"), {"comment": "spaced comment"}, ev('{"message": "x"}', "error", "7"), ev("[DONE]", id="7")],
    ),  # fmt: skip
    "final_lone_cr_ends_the_event": (b"data: tail\n\r", [ev("tail")]),
    "undispatched_event_is_dropped": (b"data: one\n\ndata: lost\n", [ev("one")]),
}


def as_dict(e: SSEEvent) -> dict[str, Any]:
    return {"comment": e.comment} if e.comment is not None else {"data": e.data, "event": e.event, "id": e.id}


def py_parse(parts: list[bytes]) -> list[dict[str, Any]]:
    d = SSEDecoder(keep_comments=True)
    out = [e for p in parts for e in d.feed(p)]
    return [as_dict(e) for e in out + d.flush()]


def splits(data: bytes) -> list[list[bytes]]:
    """Every two-way split, and one byte at a time (every boundary at once)."""
    return [[data[:k], data[k:]] for k in range(len(data) + 1)] + [[data[i : i + 1] for i in range(len(data))]]


@pytest.mark.parametrize("name", list(CASES))
def test_python_decoder_at_every_split(name: str) -> None:
    data, expected = CASES[name]
    for parts in splits(data):
        assert py_parse(parts) == expected, parts


NODE_SCRIPT = r"""
const { SSEParser } = require(process.argv[2]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const [name, b64] of Object.entries(cases)) {
  const data = Buffer.from(b64, "base64");
  const results = [];
  const runs = [];
  for (let k = 0; k <= data.length; k++) runs.push([data.subarray(0, k), data.subarray(k)]);
  const bytewise = [];
  for (let i = 0; i < data.length; i++) bytewise.push(data.subarray(i, i + 1));
  runs.push(bytewise);
  for (const parts of runs) {
    const p = new SSEParser({ keepComments: true });
    const evs = [];
    for (const part of parts) evs.push(...p.feed(new Uint8Array(part)));
    evs.push(...p.flush());
    results.push(evs);
  }
  out[name] = results;
}
process.stdout.write(JSON.stringify(out));
"""


def run_node(cases: dict[str, bytes], tmp_path: Path) -> dict[str, list[list[dict[str, Any]]]]:
    node = shutil.which("node")
    assert node, "node is needed for the JavaScript parser test (apt-get install nodejs)"
    script = tmp_path / "run_sse.js"
    script.write_text(NODE_SCRIPT)
    payload = json.dumps({k: base64.b64encode(v).decode() for k, v in cases.items()})
    r = subprocess.run([node, str(script), str(SSE_JS)], input=payload, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_javascript_parser_at_every_split(tmp_path: Path) -> None:
    out = run_node({k: v[0] for k, v in CASES.items()}, tmp_path)
    for name, (data, expected) in CASES.items():
        results = out[name]
        assert len(results) == len(data) + 2
        for i, got in enumerate(results):
            assert got == expected, (name, "split at" if i <= len(data) else "bytewise", i)


def test_javascript_parser_keeps_state_across_reads_and_ignores_comments_by_default(tmp_path: Path) -> None:
    script = tmp_path / "state.js"
    script.write_text(
        "const { SSEParser } = require(process.argv[2]);\n"
        "const p = new SSEParser();\n"
        "const a = p.feed('data: {\"content\": \"a\\u00e9');\n"
        "const b = p.feed(': hb\\n');\n"
        "const c = p.feed('\\n\\n: ping\\n\\ndata: x\\r');\n"
        "const d = p.feed('\\n\\r\\n');\n"
        "process.stdout.write(JSON.stringify([a, b, c, d]));\n"
    )
    r = subprocess.run([shutil.which("node") or "node", str(script), str(SSE_JS)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    a, b, c, d = json.loads(r.stdout)
    # 'data: {..."a\u00e9: hb' is one line until its \n; a comment only when ':' starts the line
    assert a == [] and b == []
    assert c == [{"data": '{"content": "a\u00e9: hb', "event": "message", "id": None}]
    assert d == [{"data": "x", "event": "message", "id": None}]
