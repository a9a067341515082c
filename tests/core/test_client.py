"""The client against the real built-in server on loopback: timings checked against the server's own truth."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from conftest import http_get

from streaming.core.client import AsyncClient, Client
from streaming.core.config import BUILTINS, Deployment, SimProfile
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts

SIM = Deployment(name="sim-test", provider="simulated", model="sim-test", sim=SimProfile(ttft_ms=80, tokens_per_s=200, jitter=0.0, output_tokens=20))
DEPS = [*BUILTINS, SIM]


def truth(server_url: str, response_id: str) -> dict[str, Any]:
    r = http_get(f"{server_url}/debug/truth/{response_id}")
    assert r.status_code == 200, r.text
    return r.json()


def run(sync: bool | str, server_url: str, dep: Deployment | str, req: LLMRequest, **kw: Any) -> StreamRecord:
    """``sync`` is True (Client), False (AsyncClient on the wire transport) or "httpx" (AsyncClient on httpx2)."""
    if sync is True:
        with Client(DEPS, server_url=server_url, **kw) as c:
            return c.run(dep, req)

    async def go() -> StreamRecord:
        async with AsyncClient(DEPS, server_url=server_url, transport="httpx" if sync == "httpx" else "wire", **kw) as c:
            return await c.run(dep, req)

    return asyncio.run(go())


both = pytest.mark.parametrize("sync", [True, False, "httpx"], ids=["sync", "async-wire", "async-httpx"])


@pytest.mark.alone
@both
def test_stream_matches_server_truth(server, sync: bool) -> None:
    rec = run(sync, server.url, SIM, LLMRequest.chat("hi", max_tokens=50))
    assert rec.status == "ok", rec.error
    assert rec.output_tokens == 20 and rec.tokens_source == "usage" and rec.chunks == 20
    assert rec.finish_reason == "stop"
    t = truth(server.url, rec.response_id)
    assert "".join(t["chunk_texts"]) == rec.text
    # The client stamps the first content after the server wrote it, and not much later.
    err = (rec.t0_monotonic + rec.ttft_s) - t["chunk_times"][0]
    assert 0 <= err < 0.025
    assert rec.t0_monotonic <= t["received_at"]
    assert rec.ttft_s >= 0.08  # the profile waits 80 ms after the request is in
    assert rec.e2e_s >= rec.t_last_token_s >= rec.ttft_s
    assert rec.tokens_per_s == pytest.approx(200, rel=0.25)


@both
def test_non_streaming_has_no_ttft(server, sync: bool) -> None:
    rec = run(sync, server.url, SIM, LLMRequest.chat("hi", stream=False))
    assert rec.status == "ok" and rec.ttft_s is None and rec.tpot_s is None
    assert rec.e2e_s >= 0.08 + 19 / 200 * 0.9
    assert rec.output_tokens == 20 and len(rec.text.split()) == 20


def test_completions_api(client) -> None:
    rec = client.run(SIM, LLMRequest(prompt="Once upon a time", api="completions", max_tokens=5))
    assert rec.status == "ok" and rec.api == "completions" and rec.output_tokens == 5 and rec.finish_reason == "length"
    assert rec.response_id.startswith("cmpl-")


def test_azure_route_shapes(server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAB_TEST_AZURE_KEY", "fake-azure-key")
    az = Deployment(name="az", provider="azure", endpoint=server.url, deployment="sim-fast", api_version="2024-10-21",
                    api_key_env="LAB_TEST_AZURE_KEY", model="sim-fast")  # fmt: skip
    rec = run(True, server.url, az, LLMRequest.chat("hi", max_tokens=4))
    assert rec.status == "ok" and rec.output_tokens == 4
    assert rec.content_filter and "prompt" in rec.content_filter[0]  # the empty-choices first chunk
    assert rec.t_first_event_s < rec.ttft_s  # ...which is never the first token


def test_keep_alive_connections_are_reused(server) -> None:
    async def go() -> list[StreamRecord]:
        async with AsyncClient(DEPS, server_url=server.url, max_connections=1) as c:
            return [await c.run(SIM, LLMRequest.chat("hi", max_tokens=2)) for _ in range(3)]

    recs = asyncio.run(go())
    assert all(r.ok for r in recs)
    assert recs[1].connect_s < recs[0].connect_s  # the first one connected; the others reused it


def test_without_include_usage_counts_chunks(client) -> None:
    rec = client.run(SIM, LLMRequest.chat("hi", max_tokens=6, include_usage=False))
    assert rec.status == "ok" and rec.tokens_source == "chunks" and rec.output_tokens == 6 and not rec.usage_requested


@both
def test_closing_early_cancels_and_server_stops(server, sync: bool) -> None:
    slow = Deployment(name="sim-cancel", provider="simulated", model="sim-cancel", sim=SimProfile(ttft_ms=10, tokens_per_s=50, output_tokens=500))

    if sync is True:
        with Client(DEPS, server_url=server.url) as c:
            with c.stream(slow, LLMRequest.chat("hi")) as s:
                got = [d for _, d in zip(range(3), s)]
            rec = s.record
    else:

        async def go() -> tuple[list[str], StreamRecord]:
            async with AsyncClient(DEPS, server_url=server.url, transport="httpx" if sync == "httpx" else "wire") as c:
                async with c.stream(slow, LLMRequest.chat("hi")) as s:
                    out = []
                    async for d in s:
                        out.append(d)
                        if len(out) == 3:
                            break
                return out, s.record

        got, rec = asyncio.run(go())
    assert len(got) == 3 and rec.status == "cancelled" and rec.text == "".join(got)
    deadline = time.monotonic() + 5
    t = truth(server.url, rec.response_id)
    while t["cancelled_at"] is None and time.monotonic() < deadline:
        time.sleep(0.02)
        t = truth(server.url, rec.response_id)
    assert t["cancelled_at"] is not None
    generated = t["tokens_generated"]
    assert generated < 20  # it stopped, far short of 500
    time.sleep(0.2)  # 10 more tokens' worth at 50 tok/s: none may appear
    assert truth(server.url, rec.response_id)["tokens_generated"] == generated


@both
def test_429_is_retried_a_bounded_number_of_times_and_waits_are_recorded(server, sync) -> None:
    req = LLMRequest.chat("hi", headers={"x-sim-fault": '{"kind": "429", "seconds": 0.05}'})
    rec = run(sync, server.url, SIM, req, retry=RetryPolicy(max_retries=2, max_wait_s=1.0))
    assert rec.status == "error" and rec.error_type == "http_429"
    assert rec.retries == 2 and len(rec.attempts) == 2
    assert rec.retry_wait_s == pytest.approx(0.1)  # retry-after-ms honoured: 2 × 50 ms
    assert rec.ratelimit.get("retry-after-ms") == "50"
    assert rec.request_id


def test_retry_wait_is_capped(server) -> None:
    req = LLMRequest.chat("hi", headers={"x-sim-fault": '{"kind": "503", "seconds": 30}'})
    rec = run(True, server.url, SIM, req, retry=RetryPolicy(max_retries=1, base_s=0.01, max_wait_s=0.05))
    assert rec.status == "error" and rec.http_status == 503 and rec.retries == 1 and rec.retry_wait_s <= 0.05


@both
def test_drop_mid_stream_keeps_partial_and_is_interrupted(server, sync: bool) -> None:
    req = LLMRequest.chat("hi", headers={"x-sim-fault": '{"kind": "drop", "after_tokens": 4}'})
    rec = run(sync, server.url, SIM, req)
    assert rec.status == "interrupted" and rec.chunks == 4 and rec.text and rec.retries == 0


@both
def test_stall_past_timeout_is_stalled(server, sync) -> None:
    req = LLMRequest.chat("hi", headers={"x-sim-fault": '{"kind": "stall", "after_tokens": 2, "seconds": 2}'})
    rec = run(sync, server.url, SIM, req, timeouts=Timeouts(stall_s=0.3))
    assert rec.status == "stalled" and rec.chunks == 2


@both
def test_unknown_model_is_a_plain_error(server, sync) -> None:
    ghost = Deployment(name="ghost", provider="compatible", model="no-such-model", base_url=server.url + "/v1")
    rec = run(sync, server.url, ghost, LLMRequest.chat("hi"))
    assert rec.status == "error" and rec.http_status == 404 and "no-such-model" in rec.error and rec.retries == 0


@both
def test_unreachable_server_is_a_record_not_an_exception(sync) -> None:
    dead = Deployment(name="dead", provider="compatible", model="m", base_url="http://127.0.0.1:9/v1")
    rec = run(sync, "http://127.0.0.1:9", dead, LLMRequest.chat("hi"), retry=RetryPolicy(max_retries=1, base_s=0.01))
    assert rec.status == "error" and rec.error_type == "connect_error" and rec.retries == 1


@pytest.mark.alone
@both
def test_a_retried_request_keeps_typed_attempts_and_the_time_waited_through_them(server, sync) -> None:
    """429 then success: TTFT is the final attempt's; ttft_incl_retries_s adds the failed attempt and the wait after it."""
    from streaming.core.config import Fault, SimProfile
    from streaming.core.record import Attempt

    flaky = Deployment(name="sim-flaky", provider="simulated", model="sim-flaky-" + str(sync),
                       sim=SimProfile(ttft_ms=50, tokens_per_s=500, output_tokens=5, faults=(Fault(kind="429", every=2, seconds=0.2),)))  # fmt: skip
    first = run(sync, server.url, flaky, LLMRequest.chat("one"))
    rec = run(sync, server.url, flaky, LLMRequest.chat("two"), retry=RetryPolicy(max_retries=2, max_wait_s=1.0))
    assert first.ok and first.retries == 0 and first.ttft_incl_retries_s == first.ttft_s
    assert rec.ok and rec.retries == 1 and len(rec.attempts) == 1
    a = rec.attempts[0]
    assert isinstance(a, Attempt) and a.status == "error" and a.http_status == 429 and a.error_type == "http_429"
    assert a.started_s == 0.0 and 0 < a.duration_s < 0.2 and a.wait_s == pytest.approx(0.2)
    waited = rec.ttft_incl_retries_s - rec.ttft_s
    assert waited >= a.duration_s + a.wait_s and waited < a.duration_s + a.wait_s + 0.1
    assert rec.e2e_incl_retries_s - rec.e2e_s == pytest.approx(waited)
    assert StreamRecord.from_dict(rec.to_dict()).attempts == rec.attempts  # JSON round trip keeps the type
