"""The README's reasoning example prints an answer (the default budget leaves room after the thinking)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from streaming.core.budgets import REASONING_ANSWER_BUDGET, answer_budget
from streaming.core.config import BUILTINS

ROOT = Path(__file__).resolve().parents[2]


def test_readme_reasoning_example_prints_an_answer(server: Any) -> None:
    cmd = [sys.executable, "-m", "streaming", "chat", "-d", "sim-reasoning", "--api", "responses", "--reasoning-effort", "high", "Hello"]
    assert 'python -m streaming chat -d sim-reasoning --api responses --reasoning-effort high "Hello"' in (ROOT / "README.md").read_text()  # the example as the README gives it
    env = dict(os.environ, STREAMING_SERVER_URL=server.url)
    env.pop("STREAMING_DEPLOYMENTS", None)
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-1000:]
    answer, _, metrics = out.stdout.rpartition("status=")
    assert len(answer.split()) >= 10 and metrics.startswith("ok") and "finish_reason=stop" in metrics


def test_answer_budget_only_raises_reasoning_defaults() -> None:
    by = {d.name: d for d in BUILTINS}
    assert answer_budget(by["sim-fast"], 16) == 16 and answer_budget(by["sim-reasoning"], 16) == REASONING_ANSWER_BUDGET
    assert answer_budget(by["sim-reasoning-slow"], 5000) == 5000  # a larger ask is kept
