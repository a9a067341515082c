"""A server nobody here wrote: llama-cpp-python's own OpenAI-compatible server, reached as a ``compatible`` deployment.

The project's ``chat`` and ``bench`` commands and ``streaming.timed`` (the real openai SDK) run against
``python -m llama_cpp.server`` serving the bundled Gemma model (the ``llama_cpp_server`` fixture). At
temperature 0 the streamed text must equal the server's own non-streamed answer, and the token count
its usage. Its stream differs from the built-in server's: a first chunk with the role only, an empty
``delta`` on the finish chunk, ``stream_options`` accepted and ignored (so no usage in the stream: the
count is then one per content chunk, which llama.cpp sends per token, and the record says ``chunks``),
and ``: ping`` comments every 15 s (sse-starlette).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from conftest import http_post

import streaming

pytestmark = pytest.mark.model

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = "Once upon a time"  # the base model continues it in plain ASCII at temperature 0, to the token limit
MAX_TOKENS = 24
NAME = "llama-cpp-server"


def its_answer(srv, max_tokens: int = MAX_TOKENS) -> tuple[str, dict, str]:
    """The server's own non-streamed answer at temperature 0: (text, usage, finish_reason), straight over HTTP."""
    body = {"model": srv.model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens, "temperature": 0}
    r = http_post(f"{srv.base_url}/chat/completions", json=body, timeout=60)
    assert r.status_code == 200, r.text
    choice = r.json()["choices"][0]
    return choice["message"]["content"], r.json()["usage"], choice["finish_reason"]


def deployments_file(srv, tmp_path) -> str:
    path = tmp_path / "deployments.toml"
    path.write_text(f'[[deployments]]\nname = "{NAME}"\nprovider = "compatible"\nbase_url = "{srv.base_url}"\nmodel = "{srv.model}"\n')
    return str(path)


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    out = subprocess.run([sys.executable, "-m", "streaming", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def assert_sane_stream(rec: dict) -> None:
    """The times of one streamed record, in order and plausible for a 270M model on loopback."""
    assert 0 < rec["t_headers_s"] <= rec["t_first_event_s"] <= rec["ttft_s"] <= rec["t_last_token_s"] <= rec["e2e_s"] < 60
    assert rec["chunks"] == len(rec["chunk_times_s"]) and len(rec["itl_s"]) == rec["chunks"] - 1
    assert sum(rec["itl_s"]) == pytest.approx(rec["t_last_token_s"] - rec["ttft_s"], abs=1e-6)
    assert rec["tokens_per_s"] > 0 and rec["tpot_s"] > 0


def test_chat_streams_its_non_streamed_answer(llama_cpp_server, tmp_path) -> None:
    text, usage, finish = its_answer(llama_cpp_server)
    assert text and finish == "length" and usage["completion_tokens"] == MAX_TOKENS
    deps = deployments_file(llama_cpp_server, tmp_path)
    base = ["--deployments", deps, "chat", "-d", NAME, "--temperature", "0", "--max-tokens", str(MAX_TOKENS)]
    streamed = json.loads(cli(*base, "--json", PROMPT).stdout)
    whole = json.loads(cli(*base, "--no-stream", "--json", PROMPT).stdout)
    assert streamed["status"] == "ok" and whole["status"] == "ok", (streamed["error"], whole["error"])
    assert streamed["provider"] == "compatible" and streamed["response_id"].startswith("chatcmpl-") and streamed["request_id"]
    assert streamed["text"] == whole["text"] == text
    assert streamed["finish_reason"] == whole["finish_reason"] == "length"
    # no usage in its stream although asked (stream_options is ignored): one token per content chunk, and the record says so
    assert streamed["usage_requested"] and streamed["tokens_source"] == "chunks"
    assert streamed["output_tokens"] == streamed["chunks"] == usage["completion_tokens"]
    assert whole["tokens_source"] == "usage" and whole["output_tokens"] == usage["completion_tokens"]
    assert whole["input_tokens"] == usage["prompt_tokens"]
    assert_sane_stream(streamed)
    assert whole["ttft_s"] is None and 0 < whole["t_headers_s"] <= whole["e2e_s"] < 60
    line = cli(*base, PROMPT).stdout.strip().splitlines()  # the human form: the answer, then one line of metrics
    assert text.splitlines()[0] in line[0] and line[-1].startswith("status=ok") and "TTFT" in line[-1]


def test_bench_pairs_streamed_and_whole_answers(llama_cpp_server, tmp_path) -> None:
    text, usage, _ = its_answer(llama_cpp_server, max_tokens=16)
    prompts = tmp_path / "prompts.txt"
    prompts.write_text(PROMPT + "\n")
    db = str(tmp_path / "results.db")
    deps = deployments_file(llama_cpp_server, tmp_path)
    out = cli("--deployments", deps, "bench", "-d", NAME, "-t", "0", "--mode", "both", "--prompts", str(prompts), "-n", "2", "-c", "1",
              "--warmup", "0", "--max-tokens", "16", "--db", db, "--json", "--yes", "--quiet")  # fmt: skip
    summary = json.loads(out.stdout)
    assert summary["status"] == "finished" and not summary["failures"]
    by_mode = {row["mode"]: row for row in summary["summary"]}
    assert by_mode["stream"]["ok"] == 1 and by_mode["non-stream"]["ok"] == 1
    assert 0 < by_mode["stream"]["ttft_p50"] < by_mode["stream"]["e2e_p50"]
    rows = {r["mode"]: r for r in json.loads(cli("report", summary["run_id"], "--format", "json", "--db", db).stdout)}
    assert rows["stream"]["text"] == rows["non-stream"]["text"] == text
    assert rows["stream"]["output_tokens"] == rows["non-stream"]["output_tokens"] == usage["completion_tokens"]
    assert rows["stream"]["finish_reason"] == rows["non-stream"]["finish_reason"] == "length"
    assert rows["stream"]["tokens_source"] == "chunks" and rows["non-stream"]["tokens_source"] == "usage"
    assert_sane_stream({**rows["stream"], "itl_s": [b - a for a, b in zip(rows["stream"]["chunk_times_s"], rows["stream"]["chunk_times_s"][1:])]})


def test_timed_openai_sdk_against_it(llama_cpp_server) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    text, usage, _ = its_answer(llama_cpp_server)
    client = openai.OpenAI(base_url=llama_cpp_server.base_url, api_key="unused", max_retries=0)
    kw = dict(model=llama_cpp_server.model, messages=[{"role": "user", "content": PROMPT}], max_tokens=MAX_TOKENS, temperature=0)
    s = streaming.timed(client.chat.completions.create, stream=True, **kw)
    parts = list(s)
    rec = s.record
    assert rec.status == "ok", rec.error
    assert "".join(parts) == rec.text == text and len(parts) == rec.chunks
    assert rec.transport == "sdk" and "stamped around" not in rec.transport_version  # stamped at the SDK's transport
    assert rec.tokens_source == "chunks" and rec.output_tokens == usage["completion_tokens"]
    assert rec.finish_reason == "length" and rec.response_id.startswith("chatcmpl-")
    assert_sane_stream(rec.to_dict())
    whole = streaming.timed(client.chat.completions.create, **kw)
    assert "".join(whole) == text
    assert whole.record.tokens_source == "usage" and whole.record.output_tokens == usage["completion_tokens"]
    assert whole.record.input_tokens == usage["prompt_tokens"]
    client.close()
