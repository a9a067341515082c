"""``streaming.timed`` stamps at the SDK's transport: t0 after the SDK has built the request, times consistent with the server's truth.

httpx2's own event hooks mark the instants around the transport: a ``request`` hook runs after the SDK
has built its request and before the transport is handed it; a ``response`` hook after the transport
returned. The built-in server's truth says when the request arrived and each chunk was written.
These are orderings and consistency bounds, not performance targets (benchmarks/sdk_overhead.py measures).
The bound on lateness (``LATE``) leaves room for a loaded shared 2-core machine (80 ms was seen there)
and is still far below what stamping at the call or after the SDK's parsing gives on a first call (seconds).
"""

from __future__ import annotations

import asyncio
import time

import httpx2
import pytest
from conftest import http_get

import streaming

MESSAGES = [{"role": "user", "content": "hi"}]
LATE = 0.25
KW = dict(model="sim-fast", messages=MESSAGES, max_tokens=12, stream=True)


class Hooks:
    """Clock readings from httpx2's request and response event hooks."""

    def __init__(self) -> None:
        self.built: list[float] = []
        self.returned: list[float] = []

    def on_request(self, request: httpx2.Request) -> None:
        self.built.append(time.perf_counter())

    def on_response(self, response: httpx2.Response) -> None:
        self.returned.append(time.perf_counter())

    async def aon_request(self, request: httpx2.Request) -> None:
        self.on_request(request)

    async def aon_response(self, response: httpx2.Response) -> None:
        self.on_response(response)


def check_against_truth(server, s: streaming.TimedSDKStream, hooks: Hooks) -> None:
    rec = s.record
    assert rec.status == "ok", rec.error
    assert "stamped around" not in (rec.transport_version or "")
    truth = http_get(f"{server.url}/debug/truth/{rec.response_id}").json()
    t0 = rec.t0_monotonic
    assert hooks.built[-1] <= t0 <= truth["received_at"]  # after the SDK built the request, before the server had it
    assert t0 + rec.t_headers_s <= hooks.returned[-1]  # headers stamped when the transport returned, not after the SDK's work
    chunks = [t0 + x for x in rec.chunk_times_s]
    assert len(chunks) == len(truth["chunk_times"])
    assert all(c >= w for c, w in zip(chunks, truth["chunk_times"]))  # never before the server wrote it
    # TTFT as the record says vs as the server says: the request's trip in and the chunk's trip out, on loopback
    assert 0 <= rec.ttft_s - truth["ttft"] < LATE


@pytest.mark.parametrize("how", ["timed-wraps", "user-passes"])
def test_sync_stamps_at_the_transport(server, how: str) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    hooks = Hooks()
    http = openai.DefaultHttpxClient(event_hooks={"request": [hooks.on_request], "response": [hooks.on_response]})
    if how == "user-passes":
        http = streaming.instrument(http)
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, http_client=http)
    for _ in range(2):  # the first call of the SDK in this process, and a later one
        s = streaming.timed(client.chat.completions.create, **KW)
        assert "".join(s) == s.record.text
        check_against_truth(server, s, hooks)
    plain = client.chat.completions.create(model="sim-fast", messages=MESSAGES, max_tokens=5)  # outside ``timed``: passed through
    assert plain.choices[0].message.content
    client.close()


@pytest.mark.parametrize("how", ["timed-wraps", "user-passes"])
def test_async_stamps_at_the_transport(server, how: str) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    hooks = Hooks()

    async def go() -> None:
        http = openai.DefaultAsyncHttpxClient(event_hooks={"request": [hooks.aon_request], "response": [hooks.aon_response]})
        if how == "user-passes":
            http = streaming.instrument(http)
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0, http_client=http)
        for _ in range(2):
            s = streaming.timed(client.chat.completions.create, **KW)
            assert "".join([t async for t in s]) == s.record.text
            check_against_truth(server, s, hooks)
        await client.close()

    asyncio.run(go())


def test_two_async_streams_at_once_keep_their_own_stamps(server) -> None:
    """The marks travel with each call (a context variable per task), so concurrent streams on one client do not mix."""
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise


    async def go() -> list[streaming.TimedSDKStream]:
        client = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="unused", max_retries=0)
        streams = [streaming.timed(client.chat.completions.create, **KW) for _ in range(3)]

        async def drain(s: streaming.TimedSDKStream) -> None:
            async for _ in s:
                pass

        await asyncio.gather(*(drain(s) for s in streams))
        await client.close()
        return streams

    for s in asyncio.run(go()):
        truth = http_get(f"{server.url}/debug/truth/{s.record.response_id}").json()
        assert s.record.t0_monotonic <= truth["received_at"]
        assert 0 <= s.record.ttft_s - truth["ttft"] < LATE


def test_non_stream_e2e_is_the_end_of_the_body(server) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    hooks = Hooks()
    http = openai.DefaultHttpxClient(event_hooks={"request": [hooks.on_request], "response": [hooks.on_response]})
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", http_client=http)
    t_before = time.perf_counter()
    s = streaming.timed(client.chat.completions.create, model="sim-fast", messages=MESSAGES, max_tokens=8)
    text = "".join(s)
    t_after = time.perf_counter()
    rec = s.record
    truth = http_get(f"{server.url}/debug/truth/{rec.response_id}").json()
    assert text and rec.status == "ok" and rec.ttft_s is None
    assert t_before <= hooks.built[-1] <= rec.t0_monotonic <= truth["received_at"]
    assert truth["finished_at"] <= rec.t0_monotonic + rec.e2e_s <= t_after
    client.close()


def test_a_client_that_cannot_be_found_is_stamped_at_the_call_and_says_so(server) -> None:
    import openai  # here: 1.1 s of CPU at every worker's collection otherwise

    hooks = Hooks()
    http = openai.DefaultHttpxClient(event_hooks={"request": [hooks.on_request], "response": [hooks.on_response]})
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="unused", http_client=http)

    def create(**kw):  # a plain function hides the SDK client from ``timed``
        return client.chat.completions.create(**kw)

    s = streaming.timed(create, **KW)
    assert "".join(s)
    assert s.record.status == "ok" and "stamped around create()" in s.record.transport_version
    assert s.record.t0_monotonic < hooks.built[-1]  # the fallback's t0 is before the SDK built the request
    client.close()


def test_instrument_names_what_it_takes() -> None:
    with pytest.raises(TypeError, match="httpx2.Client or httpx2.AsyncClient"):
        streaming.instrument(object())


COLD_CALL = """
import json, sys
import openai, streaming
client = openai.OpenAI(base_url=sys.argv[1] + "/v1", api_key="unused", max_retries=0)
s = streaming.timed(client.responses.create, model="sim-reasoning", input=[{"role": "user", "content": "hi"}], max_output_tokens=300,
                    reasoning={"effort": "low", "summary": "auto"}, stream=True)
text = "".join(s)
print(json.dumps({"text": text, **s.record.to_dict()}))
"""


def test_first_responses_call_of_a_process_is_stamped_on_arrival(server) -> None:
    """The SDK builds its Responses event models on first use (about a second here); the stream is read and
    parsed by ``timed`` itself, so that build does not delay the first call's stamps."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", COLD_CALL, server.url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    rec = json.loads(out.stdout)
    assert rec["status"] == "ok" and rec["text"] and rec["api"] == "responses"
    truth = http_get(f"{server.url}/debug/truth/{rec['response_id']}").json()
    t0 = rec["t0_monotonic"]
    assert t0 <= truth["received_at"]
    assert 0 <= t0 + rec["ttft_s"] - truth["chunk_times"][0] < LATE
    assert 0 <= t0 + rec["t_first_reasoning_s"] - truth["reasoning_times"][0] < LATE
