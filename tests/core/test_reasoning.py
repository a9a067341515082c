"""Reasoning models and the Responses API, end to end through the built-in server on loopback.

Each API × reasoning or not × stream or not, the 400 adaptation, the empty answer by budget,
tool-call-only answers, a Responses stream cut before its terminal event, Azure's v1 routes.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from conftest import http_get, http_post

from streaming.core.auth import Credentials
from streaming.core.client import Client
from streaming.core.config import BUILTINS, Deployment, SimProfile, load_deployments
from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord
from streaming.core.request import ADAPTED, LLMRequest
from streaming.errors import ConfigError

REASONING_SIM = SimProfile(ttft_ms=20, tokens_per_s=400, output_tokens=12, reasoning_tokens=40, reasoning_tokens_per_s=800)
PLAIN_SIM = SimProfile(ttft_ms=20, tokens_per_s=400, output_tokens=12)
THINKER = Deployment(name="t-thinker", provider="simulated", model="t-thinker", sim=REASONING_SIM, reasoning=True, reasoning_effort="medium")
PLAIN = Deployment(name="t-plain", provider="simulated", model="t-plain", sim=PLAIN_SIM)
DEPS = [*BUILTINS, THINKER, PLAIN]


def truth(server, rid: str) -> dict:
    return http_get(f"{server.url}/debug/truth/{rid}").json()


@pytest.fixture
def rclient(server):
    with Client(DEPS, server_url=server.url) as c:
        yield c


@pytest.mark.alone
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
@pytest.mark.parametrize("reasoning", [True, False], ids=["reasoning", "plain"])
@pytest.mark.parametrize("api", ["chat", "responses", "completions"])
def test_each_api_reasoning_and_stream(rclient, server, api: str, reasoning: bool, stream: bool) -> None:
    dep = THINKER if reasoning else PLAIN
    req = LLMRequest(prompt="Once upon", api=api, stream=stream, max_tokens=200, temperature=0.7) if api == "completions" \
        else LLMRequest.chat("hi", api=api, stream=stream, max_tokens=200, temperature=0.7)  # fmt: skip
    rec = rclient.run(dep, req)
    assert rec.status == "ok", rec.error
    assert rec.api == api
    assert rec.output_tokens == 12 and rec.tokens_source == "usage"  # visible only: the reasoning tokens are not in it
    assert len(rec.text.split()) == 12
    if reasoning:
        assert rec.temperature is None  # not sent to a reasoning model
        assert rec.reasoning_tokens == 40
        assert rec.reasoning_effort == "medium"
    else:
        assert rec.temperature == 0.7
        assert rec.reasoning_tokens in (None, 0)  # Responses reports 0 for a model that does not reason
    t = truth(server, rec.response_id)
    if stream:
        assert rec.ttft_s == pytest.approx(t["ttft"], abs=0.05)
        assert rec.tokens_per_s is not None and rec.tokens_per_s > 100
        if reasoning and api == "responses":  # the summary streams: first reasoning is measured, and before the answer
            assert rec.t_first_reasoning_s is not None and rec.t_first_reasoning_s < rec.ttft_s
            assert rec.t_first_reasoning_s == pytest.approx(t["t_first_reasoning"], abs=0.05)
            assert rec.thinking_s == pytest.approx(rec.ttft_s - rec.t_first_reasoning_s)
            assert rec.reasoning_text.startswith("**Planning")
            assert t["thinking"] == pytest.approx(40 / 800, abs=0.03)
        else:  # chat streams no reasoning from OpenAI-like models: nothing to stamp
            assert rec.t_first_reasoning_s is None and rec.thinking_s is None
    else:
        assert rec.ttft_s is None and rec.t_first_reasoning_s is None


def test_request_bodies() -> None:
    req = LLMRequest.chat("hi", max_tokens=50, temperature=0.3, api="chat")
    plain = req.body(PLAIN, True)
    assert plain["max_tokens"] == 50 and plain["temperature"] == 0.3 and "reasoning_effort" not in plain
    chat = req.resolved(THINKER).body(THINKER, True)
    assert chat["max_completion_tokens"] == 50 and "max_tokens" not in chat and "temperature" not in chat
    assert chat["reasoning_effort"] == "medium" and chat["stream_options"] == {"include_usage": True}
    resp = LLMRequest.chat("hi", max_tokens=50, temperature=0.3, api="responses", reasoning_effort="high").resolved(THINKER).body(THINKER, True)
    assert resp["input"] == [{"role": "user", "content": "hi"}] and resp["max_output_tokens"] == 50
    assert resp["reasoning"] == {"effort": "high", "summary": "auto"} and "temperature" not in resp and "stream_options" not in resp
    quiet = Deployment(name="q", provider="openai", model="o4-mini", reasoning=True, reasoning_summary="none")
    assert LLMRequest.chat("hi", api="responses").resolved(quiet).body(quiet, True)["reasoning"] == {}


def test_deployment_api_is_the_default_and_request_overrides(rclient) -> None:
    slow = next(d for d in BUILTINS if d.name == "sim-reasoning-slow")
    assert slow.api == "responses"
    assert LLMRequest.chat("hi").resolved(slow).api == "responses"
    assert LLMRequest.chat("hi", api="chat").resolved(slow).api == "chat"


def test_azure_v1_routes_with_key_and_entra(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_TEST_AZURE_KEY", "fake-azure-key")
    base = dict(provider="azure", endpoint=server.url, deployment="sim-reasoning", api_key_env="LAB_TEST_AZURE_KEY", reasoning=True)
    resp_dep = Deployment(name="az-resp", api="responses", **base)
    v1_chat = Deployment(name="az-v1", api_version="v1", **base)
    entra = Deployment(name="az-entra", api="responses", auth="entra", **base)
    assert resp_dep.url("responses") == f"{server.url}/openai/v1/responses"
    assert v1_chat.url("chat") == f"{server.url}/openai/v1/chat/completions"
    dated = Deployment(name="az-old", provider="azure", endpoint=server.url, deployment="d", api_version="2024-10-21")
    assert dated.url("chat").endswith("/openai/deployments/d/chat/completions?api-version=2024-10-21")
    creds = Credentials(token_providers={"az-entra": lambda: "entra-token"})
    with Client([resp_dep, v1_chat, entra], credentials=creds) as c:
        for dep in (resp_dep, v1_chat, entra):
            rec = c.run(dep, LLMRequest.chat("hi", max_tokens=400))
            assert rec.status == "ok", rec.error
            assert rec.reasoning_tokens == 120 and rec.output_tokens == 80
        body = orjson.loads(c.prepare(resp_dep, LLMRequest.chat("hi", max_tokens=9), True)[2])
        assert body["model"] == "sim-reasoning"


def test_400_adaptation_once_and_remembered(server) -> None:
    """A reasoning model not marked so: max_tokens and temperature are refused, adapted within the request, remembered."""
    unmarked = Deployment(name="t-unmarked", provider="simulated", model="t-unmarked", sim=REASONING_SIM)
    ADAPTED.pop("t-unmarked", None)
    with Client([unmarked], server_url=server.url) as c:
        first = c.run(unmarked, LLMRequest.chat("hi", max_tokens=200, temperature=0.5))
        assert first.status == "ok", first.error
        assert first.adapted == ["max_completion_tokens", "no_temperature"]
        assert first.retries == 0 and first.attempts == []  # an adaptation is not a failed attempt
        assert "adapted after a 400: max_completion_tokens, no_temperature" in first.summary_line()
        assert ADAPTED["t-unmarked"] == {"max_completion_tokens", "no_temperature"}
        body = orjson.loads(c.prepare(unmarked, LLMRequest.chat("hi", max_tokens=200, temperature=0.5), True)[2])
        assert body["max_completion_tokens"] == 200 and "max_tokens" not in body and "temperature" not in body
        second = c.run(unmarked, LLMRequest.chat("hi", max_tokens=200, temperature=0.5))
        assert second.status == "ok" and second.adapted == ["max_completion_tokens", "no_temperature"]
    ADAPTED.pop("t-unmarked", None)


def test_reasoning_model_rejections_are_realistic(server) -> None:
    r = http_post(f"{server.url}/v1/chat/completions", json={"model": "sim-reasoning", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 9})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_parameter" and r.json()["error"]["param"] == "max_tokens"
    r = http_post(f"{server.url}/v1/chat/completions", json={"model": "sim-reasoning", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2})
    assert r.status_code == 400 and r.json()["error"]["code"] == "unsupported_value"


@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_empty_answer_by_budget(rclient, api: str, stream: bool) -> None:
    rec = rclient.run(THINKER, LLMRequest.chat("hi", api=api, stream=stream, max_tokens=30))
    budget = "max_output_tokens" if api == "responses" else "max_completion_tokens"
    assert rec.status == "error" and rec.error_type == "reasoning_budget"
    assert rec.error == f"no visible answer: the reasoning used the whole {budget} budget (30 reasoning tokens); raise it"
    assert rec.finish_reason == "length" and rec.reasoning_tokens == 30 and rec.output_tokens == 0 and rec.ttft_s is None


@pytest.mark.alone
@pytest.mark.parametrize("api", ["chat", "responses"])
@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_tool_call_only_answer_is_ok(rclient, server, api: str, stream: bool) -> None:
    tools = [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}] if api == "chat" \
        else [{"type": "function", "name": "search", "parameters": {"type": "object"}}]  # fmt: skip
    req = LLMRequest.chat("find it", api=api, stream=stream, max_tokens=200, extra_body={"tools": tools, "tool_choice": "required"})
    rec = rclient.run(PLAIN, req)
    assert rec.status == "ok", rec.error
    assert rec.tool_calls == 1 and rec.text == ""
    assert rec.finish_reason == "tool_calls"
    if stream:
        t = truth(server, rec.response_id)
        assert rec.ttft_s == pytest.approx(t["ttft"], abs=0.05)  # the first tool-call delta
        assert rec.chunks == 14  # opening, 12 argument pieces, closing


def test_responses_stream_cut_before_completed_is_interrupted(server) -> None:
    with Client(DEPS, server_url=server.url) as c:
        req = LLMRequest.chat("hi", api="responses", max_tokens=200, headers={"x-sim-fault": '{"kind": "drop", "after_tokens": 5}'})
        rec = c.run(PLAIN, req)
    assert rec.status == "interrupted" and rec.chunks == 5 and rec.text


def test_responses_terminal_events_scripted(clock) -> None:
    """Parser unit test with a scripted clock: event types, usage from the terminal response, no terminal event."""

    def feed(events: list[dict], t_step: float = 0.1) -> StreamRecord:
        rec = StreamRecord(deployment="x", provider="openai", model="o", api="responses")
        b = RecordBuilder(rec, 0.0)
        b.on_headers(0.01, 200, {})
        for i, e in enumerate(events):
            b.on_bytes(0.1 + i * t_step, b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n")
        return b.finish(0.1 + len(events) * t_step)

    created = {"type": "response.created", "response": {"id": "resp_1", "status": "in_progress"}}
    item = {"type": "response.output_item.added", "item": {"type": "reasoning", "summary": []}}
    summ = {"type": "response.reasoning_summary_text.delta", "delta": "Thinking"}
    text = {"type": "response.output_text.delta", "delta": "Hi"}
    usage = {"input_tokens": 5, "output_tokens": 50, "output_tokens_details": {"reasoning_tokens": 40}, "input_tokens_details": {"cached_tokens": 3}}
    done = {"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": usage}}
    rec = feed([created, item, summ, text, text, done])
    assert rec.status == "ok" and rec.response_id == "resp_1" and rec.finish_reason == "stop"
    assert rec.t_first_reasoning_s == pytest.approx(0.3)  # the summary delta, not the empty output_item.added
    assert rec.ttft_s == pytest.approx(0.4) and rec.t_last_token_s == pytest.approx(0.5)
    assert (rec.output_tokens, rec.reasoning_tokens, rec.cached_tokens, rec.input_tokens) == (10, 40, 3, 5)
    cut = feed([created, text, text])
    assert cut.status == "interrupted" and cut.error_type == "incomplete_stream"
    failed = feed([created, {"type": "response.failed", "response": {"id": "resp_1", "status": "failed", "error": {"message": "boom"}}}])
    assert failed.status == "error" and "boom" in failed.error
    err = feed([created, text, {"type": "error", "code": "server_error", "message": "overloaded"}])
    assert err.status == "error" and "overloaded" in err.error
    inc = feed([created, text, {"type": "response.incomplete", "response": {"status": "incomplete", "incomplete_details": {"reason": "max_output_tokens"}}}])
    assert inc.status == "ok" and inc.finish_reason == "length"


@pytest.mark.alone
def test_chat_reasoning_content_is_reasoning_not_text(server) -> None:
    dep = Deployment(name="t-deepseek", provider="simulated", model="t-deepseek", reasoning=True,
                     sim=SimProfile(ttft_ms=20, tokens_per_s=400, output_tokens=12, reasoning_tokens=40, reasoning_tokens_per_s=800, reasoning_content=True))  # fmt: skip
    with Client([dep], server_url=server.url) as c:
        rec = c.run(dep, LLMRequest.chat("hi", max_tokens=200))
    t = truth(server, rec.response_id)
    assert rec.status == "ok" and rec.reasoning_text.startswith("**Planning") and "Planning" not in rec.text
    assert rec.t_first_reasoning_s == pytest.approx(t["t_first_reasoning"], abs=0.05)
    assert rec.t_first_reasoning_s < rec.ttft_s


def test_deployments_toml_fields(tmp_path) -> None:
    p = tmp_path / "d.toml"
    p.write_text('[[deployments]]\nname = "g5"\nprovider = "azure"\nendpoint = "https://x.openai.azure.com"\ndeployment = "gpt-5-mini"\n'
                 'api = "responses"\nreasoning = true\nreasoning_effort = "low"\nreasoning_summary = "none"\n')  # fmt: skip
    d = load_deployments(p)[-1]
    assert (d.api, d.reasoning, d.reasoning_effort, d.reasoning_summary) == ("responses", True, "low", "none")
    for line, field in (('api = "assistants"', "api"), ('reasoning_effort = "max"', "reasoning_effort"), ('reasoning = "yes"', "reasoning"),
                        ('reasoning_summary = "detailed"', "reasoning_summary")):  # fmt: skip
        p.write_text(f'[[deployments]]\nname = "g5"\nprovider = "openai"\nmodel = "o4-mini"\n{line}\n')
        with pytest.raises(ConfigError, match=f"deployments\\[0\\] \\('g5'\\): field '{field}'"):
            load_deployments(p)


def test_effort_table_and_breakdown_from_a_bench_run(server, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """bench --api/--reasoning-effort as matrix dimensions, stored per request; the metrics page's reasoning section reads them."""
    from streamlit.testing.v1 import AppTest

    from streaming.analysis import reasoning
    from streaming.bench.matrix import BenchConfig
    from streaming.bench.runner import run_benchmark
    from streaming.store import Store, load_requests

    db = str(tmp_path / "r.db")
    cfg = BenchConfig(deployments=["sim-reasoning"], apis=["chat", "responses"], reasoning_efforts=["low", "high"], mode="stream",
                      prompts=["a", "b"], repeats=2, max_tokens=600, warmup=0, concurrency=8)  # fmt: skip
    with Store(db) as s:
        run_benchmark(cfg, s)  # the built-in server: STREAMING_SERVER_URL, set by the server fixture
    df = load_requests(db)
    assert len(df) == 16 and set(zip(df["api"], df["reasoning_effort"])) == {(a, e) for a in ("chat", "responses") for e in ("low", "high")}
    assert (df["status"] == "ok").all()
    assert set(df["reasoning_tokens"]) == {60, 240}  # 120 × 0.5 and × 2
    tab = reasoning.effort_table(df)
    assert list(tab["effort"]) == ["low", "high", "low", "high"] and (tab["n"] == 4).all()
    resp = tab[tab["api"] == "responses"].set_index("effort")
    assert resp.loc["high", "thinking"] > resp.loc["low", "thinking"] * 2.5  # 240 vs 60 reasoning tokens at 400/s
    assert resp.loc["low", "thinking lo"] <= resp.loc["low", "thinking"] <= resp.loc["low", "thinking hi"]
    chat = tab[tab["api"] == "chat"].set_index("effort")  # its chat stream carries the thinking too (delta.reasoning_content)
    assert chat.loc["high", "thinking"] > chat.loc["low", "thinking"] * 2.5
    from streaming.analysis.tables import format_summary, summarize

    summary = summarize(df)
    assert len(summary) == 4 and set(zip(summary["api"], summary["reasoning_effort"])) == {(a, e) for a in ("chat", "responses") for e in ("low", "high")}
    assert format_summary(summary).splitlines()[0].split()[:6] == ["deployment", "T", "mode", "api", "effort", "n"]
    parts = reasoning.breakdown(df)
    r = parts.iloc[0]
    assert abs(r["waiting"] + r["thinking"] + r["answer"] - float(df.iloc[0]["t_last_token_s"])) < 1e-9
    from streaming.analysis.report import html_report

    page = html_report(df)
    assert "Latency across reasoning efforts" in page and "fig-breakdown" in page and "fig-effort_thinking" in page
    monkeypatch.setenv("STREAMING_DB", db)
    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "pages" / "metrics.py"), default_timeout=30).run()
    assert not at.exception
    assert any(h.value == "Latency across reasoning efforts" for h in at.subheader)
    assert {"API", "Reasoning effort"} <= {m.label for m in at.sidebar.multiselect}
