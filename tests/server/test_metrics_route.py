"""``GET /metrics`` on the built-in server: vLLM's names for the simulated queue, open without the key, and the queue time
of each streamed response in ``x-queue-time-ms`` and its truth."""

from __future__ import annotations

import asyncio
import uuid

import httpx2
import orjson
import pytest
from conftest import http_get

from streaming.core.config import SimProfile
from streaming.core.prometheus import parse_exposition
from streaming.core.transport.tls import trusted_context
from streaming.server.app import create_app
from streaming.server.launcher import ServerHandle


@pytest.mark.alone
def test_metrics_route_reports_the_queue_in_vllm_names(server: ServerHandle) -> None:
    model = f"sim-m-{uuid.uuid4().hex[:6]}"
    profile = orjson.dumps(SimProfile(ttft_ms=30, tokens_per_s=200, output_tokens=4, capacity=1).to_dict()).decode()

    async def one(c: httpx2.AsyncClient) -> tuple[str, str]:
        body = {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        async with c.stream("POST", f"{server.url}/v1/chat/completions", json=body, headers={"x-sim-profile": profile}) as r:
            await r.aread()
            return r.headers["x-request-id"], r.headers["x-queue-time-ms"]

    async def three() -> list[tuple[str, str]]:
        async with httpx2.AsyncClient(timeout=10, verify=trusted_context()) as c:
            return await asyncio.gather(*(one(c) for _ in range(3)))

    got = asyncio.run(three())  # capacity 1: the second and third wait for the first (≈ 45 ms each)
    waits = sorted(float(q) / 1000 for _, q in got)
    assert waits[0] < 0.02 and waits[2] > 0.05
    for rid, q in got:
        assert abs(http_get(f"{server.url}/debug/truth/{rid}").json()["queued_s"] - float(q) / 1000) < 1e-5
    r = http_get(f"{server.url}/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    mine = {s.name: s.value for s in parse_exposition(r.text) if s.labels.get("model_name") == model}
    assert mine["vllm:num_requests_waiting"] == 0 and mine["vllm:num_requests_running"] == 0
    assert mine["vllm:request_queue_time_seconds_count"] == 3
    assert abs(mine["vllm:request_queue_time_seconds_sum"] - sum(waits)) < 1e-5
    assert mine["vllm:time_to_first_token_seconds_count"] == 3


def test_metrics_is_open_when_the_server_has_a_key() -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(api_key="k-secret"), base_url="http://127.0.0.1") as c:  # in-process ASGI: the route and its middleware as served
        assert c.get("/v1/models").status_code == 401
        r = c.get("/metrics")
        assert r.status_code == 200 and "# TYPE vllm:request_queue_time_seconds histogram" in r.text and "k-secret" not in r.text
