"""A crash in llama.cpp or in the server is contained, named and recovered.

Each test starts its own built-in server, so crashing its model worker (or the whole
server) never touches the session's shared server. Signals are sent for real: SIGSEGV
to the worker is exactly what a faulting AMX instruction delivers.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import http_get, http_stream
from streamlit.testing.v1 import AppTest

from streaming.cli import main
from streaming.core.client import Client
from streaming.core.config import BUILTINS, LOCAL_MODEL
from streaming.core.request import LLMRequest, RetryPolicy
from streaming.server import launcher
from streaming.server.launcher import ServerHandle, free_port, start_server, warm_local

pytestmark = pytest.mark.model
APP = str(Path(__file__).resolve().parents[2] / "app.py")
LONG = "Write a long story about the sea, with many details."


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[ServerHandle]:
    h = start_server(port=free_port(), log_dir=str(tmp_path))
    warm_local(h.url)
    yield h
    h.stop()


def health(url: str) -> dict[str, Any]:
    return http_get(f"{url}/health", timeout=5).json()


def worker_pid(url: str, timeout: float = 60.0, other_than: int | None = None) -> int:
    """The running worker's pid (waits while a new one starts, and while it is still ``other_than``: a killed worker's
    pid stays in /health until the server has seen it exit)."""
    deadline = time.monotonic() + timeout
    while (pid := health(url)["local_worker_pid"]) in (None, other_than):
        assert time.monotonic() < deadline, health(url)
        time.sleep(0.05)
    return int(pid)


def kill_when_generating(url: str, pid: int, sig: int, model: str = LOCAL_MODEL, min_tokens: int = 2, only_new: bool = True) -> threading.Thread:
    """In the background: once a response of ``model`` (started after this call, if ``only_new``) has ``min_tokens`` tokens out,
    send ``sig`` to ``pid``."""
    seen = {t["response_id"] for t in http_get(f"{url}/debug/truths", params={"model": model}).json()["responses"]} if only_new else set()

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for t in http_get(f"{url}/debug/truths", params={"model": model}).json()["responses"]:
                if t["response_id"] not in seen and (t["tokens_generated"] or 0) >= min_tokens:
                    os.kill(pid, sig)
                    return
            time.sleep(0.02)

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    return th


def test_worker_segfault_mid_answer_is_named_and_the_next_request_works(own_server: ServerHandle) -> None:
    url = own_server.url
    server_pid = health(url)["pid"]
    pid = worker_pid(url)
    with Client(list(BUILTINS), server_url=url) as c:
        with c.stream("local", LLMRequest.chat(LONG, max_tokens=300, temperature=0.8)) as s:
            for i, _ in enumerate(s):
                if i == 2:
                    os.kill(pid, signal.SIGSEGV)
        rec = s.record
        assert rec.status == "error" and rec.error_type == "model_crashed"
        assert "the local model crashed (SIGSEGV)" in rec.error and own_server.log_path in rec.error
        assert rec.text  # the partial answer is kept on the record
        t_crash = time.perf_counter()
        after = c.run("local", LLMRequest.chat("Hello", max_tokens=4, temperature=0.0))
        assert after.ok, after.error
        recovered = time.perf_counter() - t_crash - (after.e2e_s - after.ttft_s)
        assert recovered < 60
    h = health(url)
    assert h["pid"] == server_pid  # the server itself stayed up
    assert h["local_worker_pid"] not in (None, pid) and h["local_worker_restarts"] == 1
    assert h["local_worker_last_crash"].startswith("SIGSEGV")
    assert "exited (SIGSEGV)" in Path(own_server.log_path).read_text()


def test_non_streaming_crash_is_model_crashed_and_not_retried(own_server: ServerHandle) -> None:
    url = own_server.url
    pid = worker_pid(url)
    kill_when_generating(url, pid, signal.SIGSEGV)
    with Client(list(BUILTINS), server_url=url, retry=RetryPolicy(max_retries=2, base_s=0.01)) as c:
        # temperature 0: the same 16-token answer every time, about half a second of decoding for the watcher to
        # catch (a sampled answer can be 6 tokens, gone between two of its polls: a full run once answered "ok")
        rec = c.run("local", LLMRequest.chat(LONG, max_tokens=300, stream=False, temperature=0.0))
    assert rec.status == "error" and rec.error_type == "model_crashed" and "SIGSEGV" in rec.error
    assert rec.retries == 0 and rec.http_status == 500


def test_three_crashes_within_a_minute_stop_restarts_and_other_deployments_keep_working(own_server: ServerHandle) -> None:
    url = own_server.url
    for _ in range(3):
        pid = worker_pid(url)
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while health(url)["local_worker_pid"] == pid:
            assert time.monotonic() < deadline
            time.sleep(0.02)
    h = health(url)
    assert h["local_worker_state"] == "disabled" and h["local_worker_pid"] is None
    with Client(list(BUILTINS), server_url=url, retry=RetryPolicy(max_retries=2, base_s=0.5)) as c:
        t = time.perf_counter()
        rec = c.run("local", LLMRequest.chat("Hello", max_tokens=4))
        refused_in = time.perf_counter() - t
        assert rec.error_type == "model_unavailable" and rec.http_status == 503 and rec.retries == 0
        assert "crashed 3 times within a minute" in rec.error and "other deployments keep working" in rec.error
        assert refused_in < 1.0  # at once: no retry waits
        assert c.run("sim-fast", LLMRequest.chat("Hello", max_tokens=4)).ok


def test_relay_reports_the_crash_and_serves_the_next_request(own_server: ServerHandle) -> None:
    url = own_server.url
    pid = worker_pid(url)
    kill_when_generating(url, pid, signal.SIGSEGV)
    events = []
    with http_stream("POST", f"{url}/chat/stream", json={"deployment": "local", "messages": [{"role": "user", "content": LONG}], "max_tokens": 300, "temperature": 0.0},
                       timeout=60) as r:  # fmt: skip
        assert r.status_code == 200
        event = None
        for line in r.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "error":
                events.append(orjson.loads(line[6:]))
    assert events and events[0]["error_type"] == "model_crashed" and "SIGSEGV" in events[0]["message"]
    with http_stream("POST", f"{url}/chat/stream", json={"deployment": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4},
                       timeout=60) as r:  # fmt: skip
        body = r.read().decode()
    assert '"done":true' in body and "event: error" not in body and body.endswith("data: [DONE]\n\n")


def test_cancel_on_the_new_worker_still_stops_within_one_token(own_server: ServerHandle) -> None:
    url = own_server.url
    old = worker_pid(url)
    os.kill(old, signal.SIGSEGV)
    worker_pid(url, other_than=old)  # the new worker: a request sent before the server saw the crash would fail with it
    with Client(list(BUILTINS), server_url=url) as c, c.stream("local", LLMRequest.chat(LONG, max_tokens=400)) as s:
        got = [d for _, d in zip(range(3), s)]
    assert len(got) == 3 and s.record.status == "cancelled"
    deadline = time.monotonic() + 10
    while (t := http_get(f"{url}/debug/truth/{s.record.response_id}").json())["generation_stopped_at"] is None:
        assert time.monotonic() < deadline, t
        time.sleep(0.05)
    assert t["tokens_after_cancel"] <= 1 and t["tokens_generated"] < 400


# -- the whole server dies: the launcher names it, restarts it on the same URL --------------------------


@pytest.fixture
def supervised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The launcher in this process starts (and supervises) its own server on a fresh port."""
    monkeypatch.delenv("STREAMING_SERVER_URL", raising=False)
    monkeypatch.setattr(launcher, "DEFAULT_PORT", free_port())
    monkeypatch.setattr(launcher, "_current", None)
    monkeypatch.setattr(launcher, "_notice", None)
    yield
    if launcher._current is not None:
        launcher._current.stop()


def test_cli_says_the_server_exited_and_the_next_request_works(supervised: None, capsys: pytest.CaptureFixture[str]) -> None:
    holder: dict[str, int] = {}

    def kill_server() -> None:
        deadline = time.monotonic() + 30
        while launcher._current is None or launcher._current.process is None:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        h = launcher._current
        kill_when_generating(h.url, h.process.pid, signal.SIGKILL, model="sim-slow", min_tokens=3, only_new=False).join()

    th = threading.Thread(target=kill_server, daemon=True)
    th.start()
    holder["rc"] = main(["chat", "-d", "sim-slow", "-n", "60", "tell me about streaming"])
    th.join(10)
    err = capsys.readouterr().err
    first_url = launcher._current.url
    assert holder["rc"] == 1
    assert "error: the built-in server exited (SIGKILL); restarted at " + first_url in err
    assert "log: " in err and ".log" in err
    assert main(["chat", "-d", "sim-fast", "-n", "8", "hello"]) == 0
    assert launcher._current.url == first_url  # one URL per process


def test_app_names_a_model_crash_and_a_server_exit_and_recovers(supervised: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    monkeypatch.delenv("STREAMING_DEPLOYMENTS", raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    at.sidebar.selectbox(key="deployment").set_value("local").run()
    url = launcher.ensure_server().url
    warm_local(url)

    # 1. the model's worker segfaults mid-answer
    kill_when_generating(url, worker_pid(url), signal.SIGSEGV)
    at.chat_input(key="prompt").set_value(LONG).run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert any("The local model crashed (SIGSEGV)" in e for e in errors), errors
    assert at.session_state["history"][-1]["record"]["error_type"] == "model_crashed"
    at.chat_input(key="prompt").set_value("Hello").run()
    assert at.session_state["history"][-1]["status"] == "ok", at.session_state["history"][-1]["record"]

    # 2. the whole server is killed mid-answer
    at.sidebar.selectbox(key="deployment").set_value("sim-slow").run()
    kill_when_generating(url, launcher._current.process.pid, signal.SIGKILL, model="sim-slow", min_tokens=3)
    at.chat_input(key="prompt").set_value("tell me about streaming").run()
    errors = [e.value for e in at.error]
    assert any(e.startswith("The built-in server exited (SIGKILL); restarted at " + url) for e in errors), errors
    at.sidebar.selectbox(key="deployment").set_value("sim-fast").run()
    at.chat_input(key="prompt").set_value("Hello again").run()
    assert at.session_state["history"][-1]["status"] == "ok"
    assert launcher._current.url == url


# -- the build: no AMX, whatever the CPU --------------------------------------------------------------


def test_installed_llama_cpp_has_no_amx() -> None:
    """The library as installed: llama.cpp's own system info names no AMX, and its CPU backend holds no AMX instruction.

    On a CPU without AMX the system info shows none whatever the build, so the second check reads
    the machine code itself: a rebuild that compiled AMX kernels in would contain tile instructions.
    """
    import llama_cpp

    from streaming.server.local_worker import amx_compiled_in, system_info

    info = system_info()
    assert "AVX" in info and not amx_compiled_in(info), info
    libs = sorted(Path(llama_cpp.__file__).parent.rglob("libggml-cpu*.so*"))
    assert libs, "libggml-cpu not found next to llama_cpp"
    objdump = shutil.which("objdump")
    assert objdump, "objdump (binutils) is needed to read the library's instructions"
    asm = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(libs[0])], capture_output=True, text=True, check=True).stdout
    assert "vfmadd" in asm or "vpdpbusd" in asm  # the disassembly is real: the SIMD kernels are there
    for insn in ("ldtilecfg", "tdpbssd", "tdpbusd", "tileloadd", "tdpbf16ps"):
        assert f"\t{insn}" not in asm and f" {insn} " not in asm, f"{libs[0].name} contains AMX instruction {insn}"


def test_amx_guard_reads_llama_cpp_system_info() -> None:
    from streaming.server.local_worker import amx_compiled_in

    assert amx_compiled_in("CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | REPACK = 1 |")
    assert not amx_compiled_in("CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 0 | REPACK = 1 |")
    assert not amx_compiled_in("CPU : SSE3 = 1 | AVX2 = 1 | LLAMAFILE = 1 |")
