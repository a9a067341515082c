"""``streaming.timed``: the openai SDK (sync and async, OpenAI and AzureOpenAI) timed against the built-in server's truth."""

from __future__ import annotations

import asyncio
import json

import pytest
from conftest import http_get

import streaming

MESSAGES = [{"role": "user", "content": "hi"}]


def truth(server, rid: str) -> dict:
    return http_get(f"{server.url}/debug/truth/{rid}").json()


# The built-in profiles, sped up (the same token counts; 40 ms to start, then 800 tokens/s): what is checked is the
# first token's stamp against the server's, which does not depend on the pace, and each call takes 0.2 s, not 1.
FAST = {"ttft_ms": 40, "tokens_per_s": 800, "jitter": 0.1}
REASONING = {**FAST, "output_tokens": 80, "reasoning_tokens": 120, "reasoning_tokens_per_s": 2000, "reasoning_content": True}


def calls(kind: str) -> dict:
    profile = {"extra_headers": {"x-sim-profile": json.dumps(FAST if kind == "completions" else REASONING)}}
    return {
        "chat": dict(model="sim-reasoning", messages=MESSAGES, max_completion_tokens=300, reasoning_effort="low", **profile),
        "responses": dict(model="sim-reasoning", input=MESSAGES, max_output_tokens=300, reasoning={"effort": "low", "summary": "auto"},
                          **profile),  # fmt: skip
        "completions": dict(model="sim-fast", prompt="Once upon", max_tokens=20, **profile),
    }[kind]


@pytest.mark.alone
@pytest.mark.parametrize("api", ["chat", "responses", "completions"])
@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_timed_streams_match_the_truth(server, api: str, sync: bool) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    kw = calls(api)
    if sync:
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
        create = {"chat": client.chat.completions.create, "responses": client.responses.create, "completions": client.completions.create}[api]
        "".join(streaming.timed(create, stream=True, **kw))  # the SDK builds its event models on first use (cold: ~0.7 s here)
        s = streaming.timed(create, stream=True, **kw)
        text = "".join(s)
    else:

        async def go() -> tuple[str, streaming.TimedSDKStream]:
            client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused")
            create = {"chat": client.chat.completions.create, "responses": client.responses.create, "completions": client.completions.create}[api]
            [t async for t in streaming.timed(create, stream=True, **kw)]  # warm: the SDK's one-time model build
            s = streaming.timed(create, stream=True, **kw)
            parts = [t async for t in s]
            await client.close()
            return "".join(parts), s

        text, s = asyncio.run(go())
    rec = s.record
    assert rec.status == "ok", rec.error
    assert rec.transport == "sdk" and rec.api == api and rec.text == text and text
    assert rec.tokens_source == "usage"
    t = truth(server, rec.response_id)
    # the first visible token, as stamped, against when the server wrote it (one CLOCK_MONOTONIC): never before, and
    # late only by the SDK's parsing (benchmarks/sdk_overhead.py measures it)
    late = rec.t0_monotonic + rec.ttft_s - t["chunk_times"][0]
    assert 0 <= late < 0.05
    if api == "responses":
        assert rec.reasoning_tokens == 60 and rec.output_tokens == 80
        assert 0 <= rec.t0_monotonic + rec.t_first_reasoning_s - t["reasoning_times"][0] < 0.05
    if api == "chat":
        assert rec.reasoning_tokens == 60 and rec.output_tokens == 80


def test_timed_azure_client_non_stream_and_errors(server) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    az = openai.AzureOpenAI(azure_endpoint=server.url, api_key="unused", api_version="2024-10-21")
    s = streaming.timed(az.chat.completions.create, model="sim-fast", messages=MESSAGES, max_tokens=5)
    assert "".join(s) and s.record.provider == "azure" and s.record.status == "ok" and s.record.ttft_s is None and s.record.e2e_s > 0
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
    bad = streaming.timed(client.chat.completions.create, model="sim-reasoning", messages=MESSAGES, max_tokens=5, stream=True)
    assert list(bad) == []
    assert bad.record.status == "error" and bad.record.http_status == 400 and "max_completion_tokens" in bad.record.error


def test_timed_close_early_is_cancelled(server) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused")
    s = streaming.timed(client.chat.completions.create, model="sim-slow", messages=MESSAGES, stream=True)
    it = iter(s)
    first = next(it)
    it.close()
    assert first and s.record.status == "cancelled" and s.record.chunks == 1
