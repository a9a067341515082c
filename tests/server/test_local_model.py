"""The real model (Gemma 3 270M via llama.cpp) through the whole path: server, HTTP, client."""

from __future__ import annotations

import time

import pytest
from conftest import http_get

from streaming.core.request import LLMRequest
from streaming.server.launcher import warm_local

pytestmark = pytest.mark.model


def test_local_model_streams_real_tokens(server, client) -> None:
    warm_local(server.url)
    rec = client.run("local", LLMRequest.chat("What is cloud computing?", max_tokens=8, temperature=0.0, seed=1))
    assert rec.status == "ok", rec.error
    assert rec.tokens_source == "usage" and 1 <= rec.output_tokens <= 8
    assert rec.input_tokens and rec.input_tokens > 5
    assert rec.text.strip() and rec.ttft_s is not None and rec.ttft_s < rec.e2e_s


def test_local_generation_stops_when_the_client_leaves(server, client) -> None:
    warm_local(server.url)
    # seeded: the same 24-token answer every time (an unseeded one once ended after two tokens, "Sea Turtles")
    with client.stream("local", LLMRequest.chat("Write a long story about the sea.", max_tokens=400, temperature=0.8, seed=1)) as s:
        got = [d for _, d in zip(range(3), s)]
    assert len(got) == 3 and s.record.status == "cancelled"
    rid = s.record.response_id
    deadline = time.monotonic() + 10
    while True:
        t = http_get(f"{server.url}/debug/truth/{rid}").json()
        if t["cancelled_at"] is not None and t["tokens_generated"] == http_get(f"{server.url}/debug/truth/{rid}").json()["tokens_generated"]:
            break
        assert time.monotonic() < deadline, t
        time.sleep(0.05)
    first = t["tokens_generated"]
    time.sleep(0.3)  # ~30 tokens' worth at full speed: none may appear
    t = http_get(f"{server.url}/debug/truth/{rid}").json()
    assert t["tokens_generated"] == first and first < 400
    assert t["tokens_after_cancel"] <= 1


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "non-stream"])
def test_local_model_on_the_responses_api(server, client, stream: bool) -> None:
    warm_local(server.url)
    rec = client.run("local", LLMRequest.chat("What is cloud computing?", api="responses", stream=stream, max_tokens=6, temperature=0.0, seed=1))
    assert rec.status == "ok", rec.error
    assert rec.api == "responses" and rec.tokens_source == "usage" and 1 <= rec.output_tokens <= 6 and rec.text.strip()
    assert rec.reasoning_tokens == 0 and rec.t_first_reasoning_s is None  # a model that does not reason
    assert (rec.ttft_s is not None) == stream
