"""streaming.live against the real built-in server: threaded reader, paint frames, Stop, race, formatting."""

from __future__ import annotations

import time
from typing import Any

import orjson
import pytest
from conftest import http_get, wait_until

from streaming.core.auth import SafeSecrets
from streaming.core.client import Client
from streaming.core.request import LLMRequest
from streaming.demo.format import failure_sentence, metrics_line
from streaming.demo.pacing import Batcher, Smoother
from streaming.demo.race import Race, RaceResult
from streaming.demo.reader import ThreadedReader, frames


def profile(**kw: Any) -> dict[str, str]:
    return {"x-sim-profile": orjson.dumps(kw).decode()}


def req(**kw: Any) -> LLMRequest:
    headers = kw.pop("headers", {})
    return LLMRequest.chat("hello", temperature=0.5, headers={**profile(**kw), **headers})


def truth(url: str, rid: str) -> dict[str, Any]:
    return http_get(f"{url}/debug/truth/{rid}", timeout=5).json()


def test_reader_yields_every_delta_and_the_record(client: Client) -> None:
    with ThreadedReader(client.stream("sim-fast", req(ttft_ms=20, tokens_per_s=500, output_tokens=25))) as r:
        got: list[str] = []
        while not r.finished:
            got += r.take(1.0)
    rec = r.record
    assert rec.status == "ok" and rec.output_tokens == 25
    assert "".join(got) == rec.text
    s = r.stats()
    assert s.done and s.tokens == 25 and s.ttft_s is not None and s.tokens_per_s and s.tokens_per_s > 50


@pytest.mark.alone  # counts paints or ticks in wall-clock time
def test_frames_batch_repaints_and_keep_all_text(client: Client) -> None:
    r = ThreadedReader(client.stream("sim-fast", req(ttft_ms=20, tokens_per_s=400, output_tokens=80))).start()
    fs = list(frames(r, interval_s=0.05, tick_s=0.1))
    painted = [f for f in fs if f.text]
    assert fs[-1].final and all(not f.final for f in fs[:-1])
    assert "".join(f.text for f in fs) == r.record.text
    # 80 chunks over ~200 ms at one repaint per 50 ms: a handful of paints, not 80
    assert 3 <= len(painted) <= 12, len(painted)


@pytest.mark.alone  # counts paints or ticks in wall-clock time
def test_ticks_before_the_first_token(client: Client) -> None:
    r = ThreadedReader(client.stream("sim-fast", req(ttft_ms=450, tokens_per_s=500, output_tokens=5))).start()
    fs = list(frames(r, interval_s=0.05, tick_s=0.1))
    ticks = [f for f in fs if not f.text and f.stats.ttft_s is None]
    assert len(ticks) >= 3  # the page wakes up during the silence: a Stop there is handled
    assert "waiting for first token" in ticks[0].stats.line()
    assert r.record.ok


@pytest.mark.alone  # bounds a wall-clock wait
def test_cancel_during_a_long_silence_is_immediate(client: Client, server: Any) -> None:
    r = ThreadedReader(client.stream("sim-fast", req(ttft_ms=20_000))).start()
    wait_until(lambda: r.stream._response is not None)
    t = time.perf_counter()
    r.cancel()
    rec = r.join(5.0)
    assert time.perf_counter() - t < 1.0
    assert rec.status == "cancelled" and rec.error_type == "cancelled" and rec.text == ""
    wait_until(lambda: truth(server.url, rec.request_id)["cancelled_at"] is not None)
    assert truth(server.url, rec.request_id)["tokens_generated"] == 0


def test_cancel_mid_stream_keeps_partial_text_and_server_stops(client: Client, server: Any) -> None:
    r = ThreadedReader(client.stream("sim-fast", req(ttft_ms=10, tokens_per_s=40, output_tokens=400))).start()
    got: list[str] = []
    while len(got) < 3:
        got += r.take(2.0)
    r.cancel()
    rec = r.join(5.0)
    assert rec.status == "cancelled"
    assert rec.text.startswith("".join(got)) and rec.text
    wait_until(lambda: truth(server.url, rec.response_id)["cancelled_at"] is not None)
    assert truth(server.url, rec.response_id)["tokens_generated"] < 50


def test_race_streaming_shows_text_long_before_non_streaming(client: Client) -> None:
    with Race(client, "sim-fast", req(ttft_ms=50, tokens_per_s=200, output_tokens=60)) as race:
        res = race.join(10.0)
    assert race.streamed.record.ok and race.plain.record.ok
    assert race.plain.record.stream is False and race.plain.record.text
    assert res.stream_wait_s is not None and res.plain_wait_s is not None
    assert res.plain_wait_s > res.stream_wait_s and res.ratio is not None and res.ratio > 2


def test_smoother_paints_a_steady_share_and_loses_nothing() -> None:
    s = Smoother(lag_s=0.25, min_chars=2)
    s.push("x" * 100)
    first = s.take(0.05)
    assert len(first) == 20
    s.push("y" * 10)
    rest = s.flush()
    assert first + rest == "x" * 100 + "y" * 10 and not s.pending
    b = Batcher()
    b.push("a")
    b.push("b")
    assert b.take(0.05) == "ab" and not b.pending


def test_failure_sentence_names_the_request_and_keeps_partial(client: Client) -> None:
    rec = client.run("sim-fast", req(ttft_ms=10, tokens_per_s=500, output_tokens=20, headers={"x-sim-fault": '{"kind": "drop", "after_tokens": 3}'}))
    assert rec.status == "interrupted" and rec.text
    sentence = failure_sentence(rec)
    assert sentence is not None and "dropped" in sentence and rec.request_id in sentence and "\n" not in sentence
    line = metrics_line(rec, 0.5)
    assert line.startswith("interrupted") and "sim-fast" in line and "temperature 0.5" in line
    ok = client.run("sim-fast", req(ttft_ms=10, tokens_per_s=500, output_tokens=5))
    assert failure_sentence(ok) is None and "TTFT" in metrics_line(ok) and "finish_reason stop" in metrics_line(ok)


class _Broken:
    def __getitem__(self, key: str) -> Any:
        raise FileNotFoundError("No secrets found")

    def __iter__(self) -> Any:
        raise FileNotFoundError("No secrets found")


@pytest.mark.parametrize("inner", [_Broken(), {"A": "1"}], ids=["missing-file", "mapping"])
def test_safe_secrets_never_raises(inner: Any) -> None:
    s = SafeSecrets(inner)
    assert s.get("NOPE") is None and "NOPE" not in s
    assert "1" not in repr(s)
    if isinstance(inner, dict):
        assert s.get("A") == "1" and list(s) == ["A"]
    else:
        assert list(s) == [] and len(s) == 0


def test_race_result_ratio() -> None:
    from streaming.core.record import StreamRecord

    a = StreamRecord(deployment="d", provider="simulated", model="m", ttft_s=0.2, e2e_s=1.0)
    b = StreamRecord(deployment="d", provider="simulated", model="m", stream=False, e2e_s=1.0)
    assert RaceResult.of(a, b).ratio == pytest.approx(5.0)
