"""The CLI as a user runs it: a subprocess, reusing the session's server through STREAMING_SERVER_URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parents[2]
DESIGN_KEYS = {
    "deployment", "provider", "model", "api", "stream", "temperature", "max_tokens", "status", "error", "finish_reason",
    "response_id", "request_id", "started_at", "t_headers_s", "t_first_event_s", "ttft_s", "t_last_token_s", "e2e_s",
    "itl_s", "tpot_s", "tokens_per_s", "output_tokens", "tokens_source", "input_tokens", "chunks", "retries", "retry_wait_s", "text",
}  # fmt: skip


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "streaming", *args], capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def test_chat_streams_then_prints_one_metrics_line(server) -> None:
    p = cli("chat", "--deployment", "sim-fast", "--max-tokens", "8", "Hello")
    assert p.returncode == 0, p.stderr
    body, _, metrics = p.stdout.rstrip("\n").rpartition("\n")
    assert len(body.split()) == 8
    for part in ("status=ok", "TTFT", "tok/s", "8 tokens (usage)", "e2e", "finish_reason=length"):
        assert part in metrics


def test_chat_json_is_only_the_record(server) -> None:
    p = cli("chat", "-d", "sim-fast", "-n", "5", "--temperature", "0.3", "--json", "Hello")
    assert p.returncode == 0, p.stderr
    rec = orjson.loads(p.stdout)
    assert DESIGN_KEYS <= set(rec)
    assert rec["temperature"] == 0.3 and rec["output_tokens"] == 5 and rec["ttft_s"] > 0.1


def test_chat_no_stream_and_completions(server) -> None:
    p = cli("chat", "-d", "sim-fast", "-n", "5", "--no-stream", "--json", "Hello")
    rec = orjson.loads(p.stdout)
    assert rec["stream"] is False and rec["ttft_s"] is None and rec["e2e_s"] > 0.1  # sim-fast: TTFT about 200 ms, jittered
    p = cli("chat", "-d", "sim-fast", "-n", "5", "--completions", "--json", "Hello")
    rec = orjson.loads(p.stdout)
    assert rec["api"] == "completions" and rec["status"] == "ok"


def test_bad_input_is_one_clear_line(server, tmp_path: Path) -> None:
    p = cli("chat", "-d", "nope", "Hello")
    assert p.returncode == 2 and "unknown deployment 'nope'" in p.stderr and "Traceback" not in p.stderr
    p = cli("chat", "--temperature", "9", "Hello")
    assert p.returncode == 2 and "--temperature must be between 0.0 and 2.0" in p.stderr
    bad = tmp_path / "deployments.toml"
    bad.write_text('[[deployments]]\nname = "az"\nprovider = "azure"\nendpoint = "https://x.example"\ndeployment = "d"\napi_key_env = "LAB_NOT_SET_KEY"\n')
    p = cli("--deployments", str(bad), "chat", "-d", "az", "Hello")
    assert p.returncode == 2 and "'az'" in p.stderr and "LAB_NOT_SET_KEY" in p.stderr and "Traceback" not in p.stderr


def test_serve_refuses_public_bind_without_key() -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMING_SERVER_API_KEY"}
    p = subprocess.run([sys.executable, "-m", "streaming", "serve", "--host", "0.0.0.0"], capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert p.returncode == 2 and "--api-key" in p.stderr


def test_serve_and_chat_start_without_the_analysis_stack() -> None:
    """The server subprocess (``serve``) and ``chat`` load no pandas/scipy: every launched server starts lighter; ``bench`` still has them."""
    probe = ("import sys; from streaming.cli import build_parser, _command_in; "
             "build_parser(_command_in(sys.argv[1:])); print(sorted(m for m in ('pandas', 'scipy') if m in sys.modules))")  # fmt: skip
    loaded = {cmd: subprocess.run([sys.executable, "-c", probe, *argv], cwd=ROOT, capture_output=True, text=True, timeout=300).stdout.strip()
              for cmd, argv in {"serve": ["serve"], "chat": ["--deployments", "x.toml", "chat", "hi"], "bench": ["bench"]}.items()}  # fmt: skip
    assert loaded == {"serve": "[]", "chat": "[]", "bench": "['pandas']"}, loaded
