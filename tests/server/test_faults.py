"""Every injected fault, through every client transport and both routes (OpenAI and Azure), classified right.

The real built-in server injects the fault (header ``x-sim-fault``); the client must detect
it and leave a record whose status, error type, partial text and attempts say what happened.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from streaming.core.client import AsyncClient, Client
from streaming.core.config import BUILTINS, FAULT_KINDS, Deployment, Fault, SimProfile
from streaming.core.record import StreamRecord
from streaming.core.request import (
    LLMRequest,
    RetryPolicy,
    Timeouts,
    can_resume,
    resume_request,
)
from streaming.store import Store, load_requests

TOKENS = 12
PROFILE = SimProfile(ttft_ms=10, tokens_per_s=1000, output_tokens=TOKENS)
KEY_VAR = "LAB_FAULTS_TEST_KEY"


@dataclass(frozen=True)
class Case:
    """One fault and what the record must say about it."""

    fault: dict[str, Any]
    status: str
    error_type: str | None
    chunks: int | None  # content chunks kept (None: not checked)
    retries: int = 0


CASES: dict[str, Case] = {
    "429": Case({"kind": "429", "seconds": 0.02}, "error", "http_429", 0, retries=1),
    "500": Case({"kind": "500"}, "error", "http_500", 0, retries=1),
    "503": Case({"kind": "503"}, "error", "http_503", 0, retries=1),
    "reset": Case({"kind": "reset"}, "error", "connection_reset", 0, retries=1),
    "drop": Case({"kind": "drop", "after_tokens": 3}, "interrupted", "connection_dropped", 3),
    "stall": Case({"kind": "stall", "after_tokens": 2, "seconds": 0.8}, "stalled", "stall_timeout", 2),
    "slow_headers": Case({"kind": "slow_headers", "seconds": 0.8}, "error", "header_timeout", 0, retries=1),
    "malformed": Case({"kind": "malformed", "after_tokens": 2}, "protocol_error", "malformed_chunk", 2),
    "azure_annotations": Case({"kind": "azure_annotations", "after_tokens": 2}, "ok", None, TOKENS),
    "content_filter": Case({"kind": "content_filter", "after_tokens": 3}, "filtered", "content_filter", 3),
    "error_event": Case({"kind": "error_event", "after_tokens": 2}, "error", "stream_error", 2),
}
TRANSPORTS = ["sync", "async-wire", "async-httpx"]
STALL_S = 0.25


def test_every_fault_kind_has_a_case() -> None:
    assert set(CASES) == set(FAULT_KINDS)


def deployment(route: str, server_url: str) -> Deployment:
    if route == "azure":
        return Deployment(name="az-faults", provider="azure", endpoint=server_url, deployment="sim-fast", api_version="2024-10-21",
                          api_key_env=KEY_VAR, model="sim-fast")  # fmt: skip
    return Deployment(name="sim-faults", provider="simulated", model="sim-fast", sim=PROFILE)


def run(transport: str, server_url: str, dep: Deployment, req: LLMRequest) -> StreamRecord:
    kw: dict[str, Any] = dict(server_url=server_url, retry=RetryPolicy(max_retries=1, base_s=0.01, max_wait_s=0.5),
                              timeouts=Timeouts(connect_s=2.0, stall_s=STALL_S))  # fmt: skip
    deps = [*BUILTINS, dep]
    if transport == "sync":
        with Client(deps, **kw) as c:
            return c.run(dep, req)

    async def go() -> StreamRecord:
        async with AsyncClient(deps, transport=transport.split("-")[1], **kw) as c:
            return await c.run(dep, req)

    return asyncio.run(go())


def faulted(fault: dict[str, Any], **kw: Any) -> LLMRequest:
    headers = {"x-sim-profile": orjson.dumps(PROFILE.to_dict()).decode(), "x-sim-fault": orjson.dumps(fault).decode()}
    return LLMRequest.chat("Tell me about streaming.", max_tokens=64, headers=headers, **kw)


@pytest.mark.parametrize("route", ["openai", "azure"])
@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("kind", list(CASES))
def test_fault_is_detected_and_classified(server, monkeypatch: pytest.MonkeyPatch, kind: str, transport: str, route: str) -> None:
    monkeypatch.setenv(KEY_VAR, "fake-key-for-fault-tests")
    case = CASES[kind]
    rec = run(transport, server.url, deployment(route, server.url), faulted(case.fault))
    assert (rec.status, rec.error_type) == (case.status, case.error_type), (rec.status, rec.error_type, rec.error)
    if case.chunks is not None:
        assert rec.chunks == case.chunks
    assert rec.retries == case.retries == len(rec.attempts)
    for a in rec.attempts:  # each attempt and its wait are recorded
        assert a.error_type == case.error_type and a.wait_s >= 0
    if case.status != "ok":
        assert rec.error and "\n" not in rec.error and "Traceback" not in rec.error  # one plain sentence
    if rec.chunks:
        assert rec.text and rec.ttft_s is not None and rec.response_id  # the partial answer is kept
    if case.error_type and case.error_type.startswith("http_"):
        assert rec.request_id and rec.http_status == int(kind)  # the server's request id is kept for support
    if kind == "429":
        assert rec.ratelimit.get("retry-after-ms") == "20" and rec.ratelimit.get("retry-after") == "1"
        assert rec.retry_wait_s == pytest.approx(0.02)  # retry-after-ms honoured
    if kind == "malformed":
        assert rec.bad_payload and "oops" in rec.bad_payload and len(rec.bad_payload) <= 200
    if kind == "content_filter":
        assert rec.finish_reason == "content_filter" and any("output" in c for c in rec.content_filter)
    if kind == "azure_annotations":
        assert rec.output_tokens == TOKENS and rec.finish_reason == "stop"
        assert rec.content_filter and "prompt" in rec.content_filter[0]  # the empty-choices first chunk
        assert rec.t_first_event_s < rec.ttft_s  # that chunk is never the first token
    if kind in ("stall", "slow_headers"):
        assert rec.e2e_s is not None and rec.e2e_s >= STALL_S


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_slow_headers_within_the_timeout_are_waited_for(server, transport: str) -> None:
    rec = run(transport, server.url, deployment("openai", server.url), faulted({"kind": "slow_headers", "seconds": 0.1}))
    assert rec.status == "ok" and rec.retries == 0 and rec.t_headers_s >= 0.1 and rec.ttft_s >= rec.t_headers_s


def test_reset_then_success_is_retried_with_the_attempt_recorded(server) -> None:
    name = f"sim-reset-{uuid.uuid4().hex[:6]}"  # the server counts requests per model: every 2nd one resets
    dep = Deployment(name=name, provider="simulated", model=name, sim=SimProfile(ttft_ms=10, tokens_per_s=1000, output_tokens=5,
                                                                                faults=(Fault(kind="reset", every=2),)))  # fmt: skip
    with Client([*BUILTINS, dep], server_url=server.url, retry=RetryPolicy(max_retries=2, base_s=0.01)) as c:
        first, second = c.run(dep, LLMRequest.chat("a")), c.run(dep, LLMRequest.chat("b"))
    assert first.status == "ok" and first.retries == 0
    assert second.status == "ok" and second.retries == 1 and second.attempts[0].error_type == "connection_reset"
    assert second.output_tokens == 5 and second.ttft_s is not None


def test_fault_in_deployments_toml_every_nth_request(server, tmp_path: Path) -> None:
    from streaming.core.config import load_deployments

    name = f"sim-every-{uuid.uuid4().hex[:6]}"
    path = tmp_path / "deployments.toml"
    path.write_text(f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 6\n'
                    'faults = [{kind = "content_filter", every = 3, after_tokens = 2}]\n')  # fmt: skip
    deps = load_deployments(path)
    with Client(deps, server_url=server.url) as c:
        statuses = [c.run(name, LLMRequest.chat("x")).status for _ in range(6)]
    assert statuses == ["ok", "ok", "filtered", "ok", "ok", "filtered"]


# -- resume ---------------------------------------------------------------------------------


def test_resume_request_shapes() -> None:
    rec = StreamRecord(deployment="d", provider="simulated", model="m", status="interrupted", text="Half an ans", response_id="chatcmpl-1",
                       output_tokens=3)  # fmt: skip
    assert can_resume(rec) and not can_resume(StreamRecord("d", "p", "m", status="interrupted"))
    chat = resume_request(LLMRequest.chat("Q?", system="S", max_tokens=10), rec)
    assert [m["role"] for m in chat.messages] == ["system", "user", "assistant", "user"]
    assert chat.messages[2]["content"] == "Half an ans" and "Continue" in chat.messages[3]["content"]
    assert chat.resume_of == "chatcmpl-1" and chat.max_tokens == 7
    comp = resume_request(LLMRequest(prompt="Once", api="completions"), rec)
    assert comp.prompt == "OnceHalf an ans" and comp.resume_of == "chatcmpl-1"
    with pytest.raises(Exception, match="no partial answer"):
        resume_request(LLMRequest.chat("Q"), StreamRecord("d", "p", "m", status="interrupted"))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_resume_after_a_drop_is_a_linked_second_attempt(server, tmp_path: Path, transport: str) -> None:
    name = f"sim-resume-{uuid.uuid4().hex[:6]}"
    prof = SimProfile(ttft_ms=5, tokens_per_s=1000, output_tokens=10, faults=(Fault(kind="drop", every=2, after_tokens=4),))
    dep = Deployment(name=name, provider="simulated", model=name, sim=prof)
    req = LLMRequest.chat("Explain streaming.", max_tokens=50)
    kw: dict[str, Any] = dict(server_url=server.url)
    if transport == "sync":
        with Client([dep], **kw) as c:
            plain = c.run(dep, req)  # request 1 is fine; request 2 drops; request 3 (the resume) is fine
            recs = c.run_resuming(dep, req, max_resumes=2)
    else:

        async def go() -> tuple[StreamRecord, list[StreamRecord]]:
            async with AsyncClient([dep], transport=transport.split("-")[1], **kw) as c:
                return await c.run(dep, req), await c.run_resuming(dep, req, max_resumes=2)

        plain, recs = asyncio.run(go())
    first, second = recs
    assert first.status == "interrupted" and first.chunks == 4 and first.retries == 0  # never retried silently
    assert second.status == "ok" and second.resume_of == first.response_id and second.response_id != first.response_id
    assert first.resume_of is None
    # the server saw the partial answer and the instruction in the second request's prompt
    assert plain.ok and second.input_tokens >= plain.input_tokens + len(first.text.split()) + 5
    assert second.max_tokens == 50 - first.output_tokens
    with Store(tmp_path / "r.db") as st:
        run_id = st.create_run("bench")
        for r in recs:
            st.add_record(run_id, r)
    df = load_requests(tmp_path / "r.db", [run_id])
    assert df["resume_of"].isna().tolist() == [True, False] and df["resume_of"].iloc[1] == first.response_id


def test_a_finished_answer_is_not_resumed(server) -> None:
    with Client(list(BUILTINS), server_url=server.url) as c:
        recs = c.run_resuming("sim-fast", LLMRequest.chat("hi", max_tokens=3, headers={"x-sim-profile": orjson.dumps(PROFILE.to_dict()).decode()}))
    assert len(recs) == 1 and recs[0].ok


# -- every surface: one plain sentence, the request id, no traceback ------------------------------

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_cli_chat_and_bench_say_what_failed_with_the_request_id(server, tmp_path: Path) -> None:
    import os
    import re
    import subprocess
    import sys

    name = f"sim-fail-{uuid.uuid4().hex[:6]}"
    deps = tmp_path / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 8\n'
                    'faults = [{kind = "drop", every = 1, after_tokens = 2}]\n')  # fmt: skip
    env = dict(os.environ, STREAMING_SERVER_URL=server.url)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streaming", "--deployments", str(deps), *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    chat = cli("chat", "-d", name, "hi")
    last = chat.stdout.strip().splitlines()[-1]
    assert chat.returncode == 1 and "status=interrupted" in last and "error: the connection dropped mid-stream" in last
    assert re.search(r"request id chatcmpl-\w+", last) and "Traceback" not in chat.stdout + chat.stderr
    bench = cli("bench", "-d", name, "-n", "4", "--warmup", "0", "--mode", "stream", "--db", str(tmp_path / "b.db"))
    lines = [ln for ln in bench.stderr.splitlines() if ln.startswith("errors: ")]
    assert bench.returncode == 0 and "Traceback" not in bench.stderr
    assert len(lines) == 1 and re.fullmatch(r"errors: 4 requests were interrupted: the connection dropped mid-stream\. Example request id: chatcmpl-\w+\.", lines[0])
    js = cli("bench", "-d", name, "-n", "2", "--warmup", "0", "--mode", "stream", "--db", str(tmp_path / "b.db"), "--json", "-q")
    assert orjson.loads(js.stdout)["failures"][0].startswith("2 requests were interrupted")
    broken = subprocess.run([sys.executable, "-m", "streaming", "report", "--db", str(tmp_path / "b.db"), "--format", "csv", "--out", str(tmp_path / "no" / "x.csv")],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert broken.returncode == 1 and broken.stderr.startswith("error: FileNotFoundError") and broken.stderr.count("\n") == 1


@pytest.mark.slow
def test_benchmark_page_names_each_kind_of_failure(server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from streamlit.testing.v1 import AppTest

    name = f"sim-page-fail-{uuid.uuid4().hex[:6]}"
    deps = tmp_path / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "{name}"\nprovider = "simulated"\nttft_ms = 5\ntokens_per_s = 1000\noutput_tokens = 8\n'
                    'faults = [{kind = "500", every = 1}]\n')  # fmt: skip
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "page.db"))
    at = AppTest.from_file(str(ROOT / "pages" / "benchmark.py"), default_timeout=30).run()
    at.multiselect(key="deployments").set_value([name])
    for key, value in dict(repeats=1, requests=4, concurrency=1, warmup=0).items():
        at.number_input(key=key).set_value(value)
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    job = at.session_state["bench_job"]
    deadline = time.monotonic() + 60
    while not job.wait(0.2):
        at.run()
        assert time.monotonic() < deadline
    at.run()
    at.run()
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1, errors  # every request (and each retry) got a 500: one sentence for that kind
    assert errors[0].startswith("4 requests failed: HTTP 500: the server had an internal error") and "Example request id: chatcmpl-" in errors[0]
    assert "\n" not in errors[0] and "Traceback" not in errors[0]
