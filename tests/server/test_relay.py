"""The SSE relay end to end: a real server on loopback, simulated (and one real-model) deployments behind it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from conftest import http_client, http_get

from streaming import cli
from streaming.core.sse import SSEDecoder
from streaming.server.launcher import ServerHandle, free_port, start_server, warm_local

pytestmark = pytest.mark.xdist_group("relay")  # one worker runs the module, so its keyed server starts once

FAST = {"ttft_ms": 30, "tokens_per_s": 400, "output_tokens": 12}
SLOW = {"ttft_ms": 20, "tokens_per_s": 20, "output_tokens": 200}
KEY = "relay-test-key-4711"


@dataclass
class Relayed:
    """What a test client saw of one relayed stream."""

    status: int
    headers: dict[str, str]
    events: list[tuple[float, str, Any]] = field(default_factory=list)  # (arrival, kind, payload)
    body: Any = None

    def of(self, kind: str) -> list[Any]:
        return [p for _, k, p in self.events if k == kind]

    @property
    def text(self) -> str:
        return "".join(self.of("content"))


def chat(deployment: str = "sim-fast", prompt: str = "Say hello.", **kw: Any) -> dict[str, Any]:
    return {"deployment": deployment, "messages": [{"role": "user", "content": prompt}], **kw}


def relay(url: str, body: Any, headers: dict[str, str] | None = None, stop_after_content: int | None = None) -> Relayed:
    """POST /chat/stream and classify every event; leave after ``stop_after_content`` deltas (closing the connection)."""
    content = body if isinstance(body, (bytes, str)) else orjson.dumps(body)
    with http_client(timeout=30) as c, c.stream("POST", f"{url}/chat/stream", content=content, headers={"content-type": "application/json", **(headers or {})}) as r:
        out = Relayed(r.status_code, {k.lower(): v for k, v in r.headers.items()})
        if r.status_code != 200:
            out.body = orjson.loads(r.read())
            return out
        dec = SSEDecoder(keep_comments=True)
        for data in r.iter_raw():
            t = time.perf_counter()
            for e in dec.feed(data):
                if e.comment is not None:
                    out.events.append((t, "comment", e.comment))
                elif e.event in ("meta", "error", "thinking"):
                    out.events.append((t, e.event, orjson.loads(e.data)))
                elif e.data == "[DONE]":
                    out.events.append((t, "DONE", None))
                else:
                    d = orjson.loads(e.data)
                    out.events.append((t, "content", d["content"]) if "content" in d else (t, "done", d))
            if stop_after_content is not None and len(out.of("content")) >= stop_after_content:
                return out  # leaving the with-block closes the connection mid-stream
    return out


def truth(url: str, response_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    r = http_get(f"{url}/debug/truth/{response_id}", headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for_truth(url: str, response_id: str, ready: Any, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        t = truth(url, response_id)
        if ready(t):
            return t
        assert time.monotonic() < deadline, t
        time.sleep(0.02)


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """A second server with an API key and a 0.1 s relay heartbeat."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("STREAMING_SERVER_API_KEY", KEY)
        mp.setenv("STREAMING_RELAY_HEARTBEAT_S", "0.1")
        handle = start_server(port=free_port(), log_dir=str(tmp_path_factory.mktemp("keyed-server")))
    yield handle
    handle.stop()


def test_relays_content_then_done_then_DONE(server: ServerHandle) -> None:
    r = relay(server.url, chat(max_tokens=8, temperature=0.2), {"x-sim-profile": orjson.dumps(FAST).decode(), "accept-encoding": "gzip, br"})
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
    assert r.headers.get("content-encoding", "identity") == "identity"
    kinds = [k for _, k, _ in r.events]
    assert kinds[0] == "meta" and kinds[-2:] == ["done", "DONE"]
    assert kinds[1:-2] == ["content"] * 8
    meta, done = r.of("meta")[0], r.of("done")[0]
    assert meta["deployment"] == "sim-fast" and meta["simulated"] is True
    assert done["done"] is True and done["finish_reason"] == "length" and done["response_id"] == meta["response_id"]
    m = done["metrics"]
    assert m["output_tokens"] == 8 and m["tokens_source"] == "usage"
    assert 0.03 <= m["ttft_s"] <= m["e2e_s"] and m["tokens_per_s"] > 0
    t = truth(server.url, meta["response_id"])  # the relay's text is exactly what the server sent, delta by delta
    assert r.of("content") == t["chunk_texts"] and t["cancelled_at"] is None
    # the deltas reached us in steps, as the server wrote them, not in one buffered burst
    arrivals = [a for a, k, _ in r.events if k == "content"]
    assert arrivals[-1] - arrivals[0] >= 0.5 * (t["chunk_times"][-1] - t["chunk_times"][0])


THINKER = {"ttft_ms": 50, "tokens_per_s": 200, "output_tokens": 10, "reasoning_tokens": 120, "reasoning_tokens_per_s": 300}


@pytest.mark.alone
def test_a_reasoning_model_s_thinking_is_relayed_before_its_first_word(server: ServerHandle) -> None:
    """Responses API, effort low (60 reasoning tokens at 300/s: about 0.2 s of thinking): thinking events first, then the answer."""
    r = relay(server.url, chat(max_tokens=200, api="responses", reasoning_effort="low"), {"x-sim-profile": orjson.dumps(THINKER).decode()})
    assert r.status == 200, r.body
    kinds = [k for _, k, _ in r.events]
    first_word = kinds.index("content")
    assert kinds[0] == "thinking" and set(kinds[:first_word]) <= {"thinking", "meta"} and "thinking" not in kinds[first_word:]
    assert kinds.count("thinking") >= 2  # live, while it thinks, not one event at the end
    thinking = r.of("thinking")
    assert "".join(t["text"] for t in thinking).startswith("**Planning the answer**")
    assert 0.04 <= thinking[0]["t_first_reasoning_s"] <= 0.5
    m = r.of("done")[0]["metrics"]
    assert m["api"] == "responses" and m["t_first_reasoning_s"] == thinking[0]["t_first_reasoning_s"] and 0.1 <= m["thinking_s"] <= 1.0
    assert r.text and m["output_tokens"] == 10


def test_mid_stream_failure_sends_an_error_event_and_ends_cleanly(server: ServerHandle) -> None:
    r = relay(server.url, chat(max_tokens=12), {"x-sim-profile": orjson.dumps(FAST).decode(), "x-sim-fault": '{"kind": "drop", "after_tokens": 3}'})
    assert r.status == 200
    kinds = [k for _, k, _ in r.events]
    assert kinds == ["meta", "content", "content", "content", "error"]
    err = r.of("error")[0]
    assert err["status"] == "interrupted" and err["message"] == "the connection dropped mid-stream"
    assert err["request_id"] and err["request_id"] == r.of("meta")[0]["request_id"]


def test_upstream_error_event_becomes_an_error_event(server: ServerHandle) -> None:
    r = relay(server.url, chat(max_tokens=12), {"x-sim-profile": orjson.dumps(FAST).decode(), "x-sim-fault": '{"kind": "error_event", "after_tokens": 2}'})
    kinds = [k for _, k, _ in r.events]
    assert kinds[:3] == ["meta", "content", "content"] and kinds[-1] == "error" and "DONE" not in kinds
    err = r.of("error")[0]
    assert err["status"] != "ok" and "mid-stream" in err["message"]


def test_client_disconnect_closes_the_upstream_stream_at_once(server: ServerHandle) -> None:
    r = relay(server.url, chat(max_tokens=200), {"x-sim-profile": orjson.dumps(SLOW).decode()}, stop_after_content=2)
    left_at = time.perf_counter()
    rid = r.of("meta")[0]["response_id"]
    t = wait_for_truth(server.url, rid, lambda t: t["cancelled_at"] is not None, timeout=5)
    assert t["finished_at"] is None and t["tokens_generated"] < 10  # 200 were asked for, at 20 tokens/s
    assert t["cancelled_at"] - left_at < 1.0  # the server saw it well before the next token would have been due


@pytest.mark.model
def test_client_disconnect_stops_the_local_model(server: ServerHandle) -> None:
    warm_local(server.url)
    r = relay(server.url, chat("local", "Write a long story about the sea.", max_tokens=400, temperature=0.8), stop_after_content=3)
    rid = r.of("meta")[0]["response_id"]
    assert r.of("meta")[0]["simulated"] is False
    t = wait_for_truth(server.url, rid, lambda t: t["cancelled_at"] is not None and t["generation_stopped_at"] is not None)
    assert t["tokens_generated"] < 400 and t["tokens_after_cancel"] <= 1
    assert t["generation_stopped_at"] - t["cancelled_at"] < 1.0
    assert truth(server.url, rid)["tokens_generated"] == t["tokens_generated"]  # the worker has stopped: the count is final


def test_heartbeat_comments_while_waiting(keyed_server: ServerHandle) -> None:
    slow_first = {"ttft_ms": 700, "tokens_per_s": 400, "output_tokens": 3}
    r = relay(keyed_server.url, chat(max_tokens=3), {"authorization": f"Bearer {KEY}", "x-sim-profile": orjson.dumps(slow_first).decode()})
    kinds = [k for _, k, _ in r.events]
    first = kinds.index("meta")  # meta comes with the first delta
    beats = [a for a, k, _ in r.events[:first] if k == "comment"]
    assert len(beats) >= 3, kinds  # 0.1 s interval, 0.7 s wait
    assert all(c == "hb" for c in r.of("comment"))
    assert kinds[-2:] == ["done", "DONE"]


@pytest.mark.parametrize(
    ("body", "status", "param", "words"),
    [
        (chat("no-such-deployment"), 404, "deployment", "unknown deployment 'no-such-deployment'"),
        (b'{"deployment": "sim-fast", "messages": [', 422, "body", "not valid JSON"),
        ({"deployment": "sim-fast"}, 422, "messages", "Field required"),
        (chat(max_tokens=100_000), 422, "max_tokens", "less than or equal to 4096"),
        (chat(temperature="hot"), 422, "temperature", "valid number"),
        ({**chat(), "messages": [{"role": "wizard", "content": "hi"}]}, 422, "messages.0.role", "Input should be"),
        ({**chat(), "stream": False}, 422, "stream", "Extra inputs"),
        (chat(prompt="x" * 300_000), 413, "body", "larger than"),
    ],
    ids=["unknown-deployment", "malformed-json", "missing-messages", "max-tokens-cap", "bad-temperature", "bad-role", "unknown-field", "too-big"],
)
def test_bad_input_answers_with_a_json_error(server: ServerHandle, body: Any, status: int, param: str, words: str) -> None:
    r = relay(server.url, body)
    assert r.status == status
    err = r.body["error"]
    assert err["param"] == param and words in err["message"]
    if status == 422:
        assert err["message"].startswith(f"field '{param}'")


def test_page_is_self_contained(server: ServerHandle) -> None:
    r = http_get(f"{server.url}/", timeout=10)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    html = r.text
    assert "SSEParser" in html and "/*__SSE_PARSER__*/" not in html  # the parser file is inlined
    assert all(u.startswith("data:") for u in re.findall(r'(?:src|href)="([^"]*)"', html)) and "https://" not in html  # no external assets
    csp = r.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'sha256-" in csp and "connect-src 'self'" in csp
    deps = http_get(f"{server.url}/chat/deployments", timeout=10).json()
    labels = {d["name"]: d["label"] for d in deps["deployments"]}
    assert labels["sim-fast"] == "sim-fast (simulated)" and "simulated" not in labels["local"]
    assert deps["default"] == "sim-fast"


def test_api_key_guards_every_data_route(keyed_server: ServerHandle) -> None:
    url = keyed_server.url
    good = {"authorization": f"Bearer {KEY}"}
    for headers in ({}, {"authorization": "Bearer wrong"}):
        r = relay(url, chat(max_tokens=3), headers)
        assert r.status == 401 and r.body["error"]["type"] == "authentication_error"
        assert http_get(f"{url}/chat/deployments", headers=headers, timeout=10).status_code == 401
        assert http_get(f"{url}/v1/models", headers=headers, timeout=10).status_code == 401
    page = http_get(f"{url}/", timeout=10)  # the page itself is public: it holds no data and asks for the key
    assert page.status_code == 200 and KEY not in page.text
    assert http_get(f"{url}/chat/deployments", headers=good, timeout=10).status_code == 200
    # the relay reaches this server's own deployments with the server's key
    r = relay(url, chat(max_tokens=4), {**good, "x-sim-profile": orjson.dumps(FAST).decode()})
    assert r.status == 200 and len(r.of("content")) == 4 and r.of("done")[0]["metrics"]["output_tokens"] == 4


def test_api_key_off_means_open(server: ServerHandle) -> None:
    assert http_get(f"{server.url}/chat/deployments", timeout=10).status_code == 200
    r = relay(server.url, chat(max_tokens=2), {"x-sim-profile": orjson.dumps(FAST).decode()})
    assert r.status == 200 and r.of("DONE") == [None]


def test_non_loopback_bind_without_a_key_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("STREAMING_SERVER_API_KEY", raising=False)
    assert cli.main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve without --api-key" in err and "0.0.0.0" in err
