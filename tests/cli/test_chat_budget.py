"""`chat` starts from the deployment's budget: the README's reasoning example answers instead of running out of tokens."""

from __future__ import annotations

import os
import subprocess
import sys

import orjson

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_the_readme_reasoning_example_prints_an_answer(server) -> None:
    cmd = [sys.executable, "-m", "streaming", "chat", "-d", "sim-reasoning", "--api", "responses", "--reasoning-effort", "high", "--json", "Hello"]
    out = subprocess.run(cmd, cwd=ROOT, env=dict(os.environ, STREAMING_SERVER_URL=server.url), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rec = orjson.loads(out.stdout)
    assert rec["status"] == "ok" and rec["finish_reason"] == "stop" and rec["text"].strip()
    assert rec["max_tokens"] == 1024 and rec["reasoning_tokens"] == 240  # high effort: twice the profile's 120
