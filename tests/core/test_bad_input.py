"""Bad input: malformed deployments.toml and bench.toml, odd prompts, HTML in answers, and the demo's Continue button.

Every malformed file gives one clear error naming the file, the entry and the field; prompts
work or are refused with a plain reason; the demo never executes HTML from an answer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import http_post, http_stream
from streamlit.testing.v1 import AppTest

from streaming.bench.settings import load_config
from streaming.core.client import Client
from streaming.core.config import BUILTINS, load_deployments
from streaming.core.request import LLMRequest
from streaming.errors import ConfigError
from streaming.store import load_requests

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
FAST = {"ttft_ms": 5, "tokens_per_s": 1000, "output_tokens": 8}
SIM = '[[deployments]]\nname = "s"\nprovider = "simulated"\n'

# (file text, entry, field): entry is what the message must name besides the file and the field
DEPLOYMENT_CASES = {
    "name-not-string": ('[[deployments]]\nname = 5\nprovider = "simulated"\n', "deployments[0]", "name"),
    "model-not-string": ('[[deployments]]\nname = "c"\nprovider = "compatible"\nbase_url = "http://h/v1"\nmodel = 3\n', "deployments[0] ('c')", "model"),
    "ttft-not-number": (SIM + 'ttft_ms = "fast"\n', "deployments[0] ('s')", "ttft_ms"),
    "tokens-fractional": (SIM + "output_tokens = 1.5\n", "deployments[0] ('s')", "output_tokens"),
    "tokens-per-s-zero": (SIM + "tokens_per_s = 0\n", "deployments[0] ('s')", "tokens_per_s"),
    "faults-not-list": (SIM + 'faults = "drop"\n', "deployments[0] ('s')", "faults"),
    "fault-probability": (SIM + 'faults = [{kind = "drop", probability = 2}]\n', "faults[0]", "probability"),
    "unknown-key": (SIM + "colour = 1\n", "deployments[0] ('s')", "colour"),
    "unknown-top-level": ('[server]\nport = 1\n' + SIM, "top-level", "server"),
    "missing-provider": ('[[deployments]]\nname = "x"\n', "deployments[0] ('x')", "provider"),
    "missing-model": ('[[deployments]]\nname = "c"\nprovider = "compatible"\nbase_url = "http://h/v1"\n', "deployments[0] ('c')", "model"),
    "missing-endpoint": ('[[deployments]]\nname = "a"\nprovider = "azure"\ndeployment = "d"\n', "deployments[0] ('a')", "endpoint"),
    "duplicate": (SIM + SIM, "deployments[1]", "name"),
    "duplicate-builtin": ('[[deployments]]\nname = "sim-fast"\nprovider = "simulated"\n', "deployments[0]", "name"),
    "ftp-url": ('[[deployments]]\nname = "c"\nprovider = "compatible"\nbase_url = "ftp://h/v1"\nmodel = "m"\n', "deployments[0] ('c')", "base_url"),
    "bare-host-url": ('[[deployments]]\nname = "a"\nprovider = "azure"\nendpoint = "my.openai.azure.com"\ndeployment = "d"\n', "deployments[0] ('a')", "endpoint"),
    "entry-not-table": ('deployments = ["x"]\n', "deployments[0]", "table"),
    "deployments-not-list": ('deployments = "x"\n', "'deployments'", "list"),
}


@pytest.mark.parametrize("case", list(DEPLOYMENT_CASES))
def test_malformed_deployments_file_names_file_entry_and_field(tmp_path: Path, case: str) -> None:
    text, entry, fld = DEPLOYMENT_CASES[case]
    path = tmp_path / "deployments.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_deployments(path)
    msg = str(e.value)
    assert str(path) in msg and entry in msg and fld in msg, msg
    assert "\n" not in msg and "Traceback" not in msg


BENCH_CASES = {
    "concurrency-string": ('concurrency = "8"\n', "concurrency"),
    "concurrency-negative": ("concurrency = -1\n", "concurrency"),
    "concurrency-zero": ("concurrency = 0\n", "concurrency"),
    "concurrency-absurd": ("concurrency = 10000000\n", "concurrency"),
    "max-in-flight-absurd": ("rate = 5\nmax_in_flight = 100000000\n", "max_in_flight"),
    "repeats-fraction": ("repeats = 1.5\n", "repeats"),
    "timeout-string": ('timeout_s = "soon"\n', "timeout_s"),
    "stall-negative": ("stall_s = -2\n", "stall_s"),
    "max-tokens-negative": ("max_tokens = -5\n", "max_tokens"),
    "max-tokens-string": ('max_tokens = "many"\n', "max_tokens"),
    "rate-zero": ("rate = 0\n", "rate"),
    "duration-string": ('duration = "long"\n', "duration"),
    "seed-string": ('seed = "x"\n', "seed"),
    "mode-wrong": ('mode = "sideways"\n', "mode"),
    "temperature-hot": ('temperature = "hot"\n', "temperature"),
    "temperature-range": ("temperatures = [0.5, 3]\n", "temperature"),
    "headers-list": ('headers = ["x"]\n', "headers"),
    "headers-value-number": ("headers = {x-a = 1}\n", "headers"),
    "unknown-key": ("colour = 1\n", "colour"),
    "unknown-table-beside-bench": ("[bench]\nrepeats = 1\n[extra]\na = 1\n", "extra"),
    "deployments-number": ("deployments = 5\n", "deployments"),
    "duplicate-deployments": ('deployments = ["sim-fast", "sim-fast"]\n', "sim-fast"),
    "inline-missing-field": ('deployments = [{name = "c", provider = "compatible", model = "m"}]\n', "base_url"),
    "inline-ftp-url": ('deployments = [{name = "c", provider = "compatible", model = "m", base_url = "ftp://x"}]\n', "base_url"),
    "inline-unknown-key": ('deployments = [{name = "s", provider = "simulated", speed = 3}]\n', "speed"),
    "inline-duplicate": ('deployments = [{name = "s", provider = "simulated"}, {name = "s", provider = "simulated"}]\n', "'s'"),
    "prompts-empty-string": ('prompts = [""]\n', "prompts[0]"),
    "prompts-not-list": ('prompts = "hi"\n', "prompts"),
    "api-wrong": ('api = "embeddings"\n', "api"),
    "prompt-set-wrong": ('prompt_set = "huge"\n', "prompt"),
}


@pytest.mark.parametrize("case", list(BENCH_CASES))
def test_malformed_bench_file_names_file_and_field(tmp_path: Path, case: str) -> None:
    text, fld = BENCH_CASES[case]
    path = tmp_path / "bench.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(path)
    msg = str(e.value)
    assert str(path) in msg and fld in msg, msg
    assert "\n" not in msg


def test_bench_file_entry_is_named_when_under_a_bench_table(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_text("[bench]\nconcurrency = -3\n")
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert str(e.value).startswith(f"{path}: [bench]: field 'concurrency'")
    path.write_text('deployments = [{name = "c", provider = "compatible", model = "m", base_url = "ftp://x"}]\n')
    with pytest.raises(ConfigError, match=r"deployments\[0\] \('c'\): field 'base_url'"):
        load_config(path)


def cli(*args: Any, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "streaming", *args], cwd=ROOT, capture_output=True, timeout=60, env=env or dict(os.environ))


def test_cli_gives_one_line_for_a_bad_file(tmp_path: Path) -> None:
    bench = tmp_path / "bench.toml"
    bench.write_text("concurrency = -1\n")
    deps = tmp_path / "deployments.toml"
    deps.write_text('[[deployments]]\nname = "c"\nprovider = "compatible"\nbase_url = "ftp://h"\nmodel = "m"\n')
    for args in (("bench", "--config", str(bench), "--db", str(tmp_path / "x.db")), ("--deployments", str(deps), "chat", "hi")):
        p = cli(*args)
        err = p.stderr.decode()
        assert p.returncode == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert not (tmp_path / "x.db").exists()  # refused before anything ran


# -- prompts ------------------------------------------------------------------------------------

ODD = "ctrl \x01\x07\x1b[31m red \x7f · tab\t · 中文 · עברית \u202e reversed \u202c · zero\u200bwidth · e\u0301 · 🌍🚀 · \ufeff"


def sim_req(text: str, **kw: Any) -> LLMRequest:
    return LLMRequest.chat(text, max_tokens=8, headers={"x-sim-profile": orjson.dumps(FAST).decode()}, **kw)


@pytest.mark.parametrize("text", ["", " ", ODD, "x" * 150_000, "line\n" * 5000], ids=["empty", "space", "control-unicode", "150k-chars", "5k-lines"])
def test_odd_prompts_work(server, text: str) -> None:
    with Client(list(BUILTINS), server_url=server.url) as c:
        rec = c.run("sim-fast", sim_req(text))
    assert rec.status == "ok" and rec.output_tokens == 8, rec.error


def test_too_long_prompt_is_a_clear_error_naming_the_field(server) -> None:
    req = LLMRequest(prompt="x" * 200_001, api="completions", max_tokens=4, headers={"x-sim-profile": orjson.dumps(FAST).decode()})
    with Client(list(BUILTINS), server_url=server.url) as c:
        rec = c.run("sim-fast", req)
    assert rec.status == "error" and rec.http_status == 422 and "field 'prompt'" in rec.error and "200000" in rec.error


def test_unencodable_prompt_is_refused_before_sending(server) -> None:
    with Client(list(BUILTINS), server_url=server.url) as c, pytest.raises(ConfigError, match="not valid Unicode"):
        c.stream("sim-fast", sim_req("bad \ud800 surrogate"))
    p = cli("chat", "-d", "sim-fast", os.fsdecode(b"caf\xe9"), env=dict(os.environ, STREAMING_SERVER_URL=server.url))  # Latin-1 bytes on a UTF-8 system
    err = p.stderr.decode()
    assert p.returncode == 2 and "not valid Unicode" in err and "Traceback" not in err


def test_odd_prompts_through_cli_and_relay(server) -> None:
    p = cli("chat", "-d", "sim-fast", "--json", "-n", "5", ODD.replace("\x00", ""), env=dict(os.environ, STREAMING_SERVER_URL=server.url))
    assert p.returncode == 0, p.stderr
    assert orjson.loads(p.stdout)["status"] == "ok"
    p = cli("chat", "-d", "sim-fast", "--json", "-n", "5", "", env=dict(os.environ, STREAMING_SERVER_URL=server.url))
    assert p.returncode == 0 and orjson.loads(p.stdout)["status"] == "ok"
    body = {"deployment": "sim-fast", "max_tokens": 5, "messages": [{"role": "user", "content": ODD}]}
    with http_stream("POST", f"{server.url}/chat/stream", json=body, headers={"x-sim-profile": orjson.dumps(FAST).decode()}, timeout=10) as r:
        text = r.read().decode()
    assert r.status_code == 200 and "data: [DONE]" in text
    r = http_post(f"{server.url}/chat/stream", json={**body, "messages": [{"role": "user", "content": "x" * 300_000}]}, timeout=10)
    assert r.status_code == 413 and r.json()["error"]["param"] == "body"


# -- the demo page ------------------------------------------------------------------------------


@pytest.fixture
def app(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, str]:
    name = f"sim-cont-{uuid.uuid4().hex[:6]}"  # the server counts requests per model: every 2nd one drops
    (tmp_path / "deployments.toml").write_text(
        f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 12\n'
        'faults = [{kind = "drop", every = 2, after_tokens = 4}]\n'
    )
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(tmp_path / "deployments.toml"))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    at.sidebar.selectbox(key="deployment").set_value(name).run()
    return at, name


def test_demo_renders_markdown_without_html_and_continue_resumes(app: tuple[AppTest, str], tmp_path: Path) -> None:
    at, name = app
    at.chat_input(key="prompt").set_value("<img src=x onerror=alert(1)><script>alert(2)</script> **bold**").run()
    assert not at.exception and at.session_state["history"][-1]["status"] == "ok"
    assert not any(b.key and b.key.startswith("continue-") for b in at.button)  # a finished answer offers no Continue
    at.chat_input(key="prompt").set_value("second").run()  # the deployment's 2nd request drops after 4 tokens
    history = at.session_state["history"]
    first = history[-1]
    assert first["status"] == "interrupted" and len(first["content"].split()) == 4
    assert [b.key for b in at.button if b.key and b.key.startswith("continue-")] == [f"continue-{len(history)}"]
    at.button(key=f"continue-{len(history)}").click().run()
    assert not at.exception
    history = at.session_state["history"]
    second = history[-1]
    assert second["role"] == "assistant" and second["status"] == "ok" and history[-2] is not second
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant", "assistant"]  # no new user turn
    assert second["record"]["resume_of"] == first["record"]["response_id"]
    at.run()
    assert not any(b.key and b.key.startswith("continue-") for b in at.button)  # nothing left to continue
    assert any("Continued from the interrupted answer" in c.value for c in at.caption)
    # every Markdown element (prompts and answers) is rendered with HTML disabled
    assert at.markdown and all(not m.proto.allow_html for m in at.markdown)
    assert any("<script>" in m.value for m in at.markdown)  # shown as text, not run
    import sqlite3

    with sqlite3.connect(tmp_path / "demo.db") as db:
        rows = db.execute("SELECT status, response_id FROM requests ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["ok", "interrupted", "ok"]
    df = load_requests(tmp_path / "demo.db")
    assert df["resume_of"].iloc[2] == rows[1][1]  # the linked attempt is stored as such
