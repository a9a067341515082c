"""Exact timings and statuses from scripted byte arrivals: no network, no sleeping."""

from __future__ import annotations

import math

import orjson
import pytest

from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord, time_per_output_token, tokens_per_second


def ev(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def content(text: str, rid: str = "chatcmpl-1") -> bytes:
    return ev({"id": rid, "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]})


ROLE = ev({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
AZURE_FIRST = ev({"choices": [], "id": "", "prompt_filter_results": [{"prompt_index": 0, "content_filter_results": {}}]})
FINISH = ev({"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = ev({"id": "chatcmpl-1", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}})
DONE = b"data: [DONE]\n\n"


def play(script: list[tuple[float, bytes]], stream: bool = True, t0: float = 100.0, headers_at: float = 0.004) -> StreamRecord:
    rec = StreamRecord(deployment="d", provider="simulated", model="m", stream=stream)
    b = RecordBuilder(rec, t0)
    b.on_headers(t0 + headers_at, 200, {"x-request-id": "req-9", "x-ratelimit-remaining-tokens": "99", "content-type": "x"})
    end = t0
    for t, data in script:
        end = t0 + t
        b.on_bytes(end, data)
    return b.finish(end)


def test_exact_ttft_itl_and_derived_metrics() -> None:
    rec = play([(0.005, ROLE), (0.200, content("Hello")), (0.210, content(" wor")), (0.230, content("ld")),
                (0.250, content("!")), (0.251, FINISH), (0.300, USAGE), (0.301, DONE)])  # fmt: skip
    assert rec.status == "ok"
    assert rec.t_headers_s == pytest.approx(0.004)
    assert rec.t_first_event_s == pytest.approx(0.005)
    assert rec.ttft_s == pytest.approx(0.200)
    assert rec.itl_s == pytest.approx([0.010, 0.020, 0.020])
    assert rec.t_last_token_s == pytest.approx(0.250)  # usage trailer and [DONE] never move it
    assert rec.e2e_s == pytest.approx(0.301)
    assert rec.output_tokens == 4 and rec.tokens_source == "usage" and rec.input_tokens == 5
    assert rec.tpot_s == pytest.approx(0.050 / 3)
    assert rec.tokens_per_s == pytest.approx(3 / 0.050)
    assert rec.text == "Hello world!"
    assert rec.finish_reason == "stop"
    assert rec.request_id == "req-9" and rec.response_id == "chatcmpl-1"
    assert rec.ratelimit == {"x-request-id": "req-9", "x-ratelimit-remaining-tokens": "99"}  # every request id header is kept too


def test_invariants_hold() -> None:
    rec = play([(0.01, ROLE), (0.1, content("a")), (0.13, content("b")), (0.2, content("c")), (0.21, FINISH), (0.22, DONE)])
    assert rec.e2e_s >= rec.t_last_token_s >= rec.ttft_s
    assert math.isclose(rec.t_last_token_s - rec.ttft_s, sum(rec.itl_s), abs_tol=1e-12)
    assert len(rec.itl_s) == rec.chunks - 1


def test_role_only_and_azure_empty_choices_never_count_as_first_token() -> None:
    rec = play([(0.001, AZURE_FIRST), (0.002, ROLE), (0.5, content("x")), (0.6, content("y")), (0.61, FINISH), (0.62, DONE)])
    assert rec.t_first_event_s == pytest.approx(0.001)
    assert rec.ttft_s == pytest.approx(0.5)
    assert rec.content_filter and "prompt" in rec.content_filter[0]


def test_events_in_one_read_share_its_timestamp() -> None:
    rec = play([(0.1, ROLE + content("a") + content("b")), (0.2, content("c") + FINISH + DONE)])
    assert rec.chunk_times_s == pytest.approx([0.1, 0.1, 0.2])
    assert rec.itl_s == pytest.approx([0.0, 0.1])


def test_stream_with_no_content_is_a_failure_not_ttft_zero() -> None:
    rec = play([(0.01, ROLE), (0.02, FINISH), (0.03, DONE)])
    assert rec.status == "error" and rec.error_type == "empty_stream"
    assert rec.ttft_s is None and rec.tokens_per_s is None


def test_chunk_count_is_the_fallback_token_source() -> None:
    rec = play([(0.1, content("a")), (0.2, content("b")), (0.3, FINISH), (0.31, DONE)])
    assert rec.output_tokens == 2 and rec.tokens_source == "chunks"


def test_content_filter_finish_keeps_text_and_is_filtered() -> None:
    stop = ev({"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "content_filter",
                                          "content_filter_results": {"violence": {"filtered": True, "severity": "medium"}}}]})  # fmt: skip
    rec = play([(0.1, content("shown")), (0.2, stop), (0.3, DONE)])
    assert rec.status == "filtered" and rec.text == "shown"
    assert any("output" in c for c in rec.content_filter)


def test_azure_annotations_after_stop_chunk_are_read_to_done() -> None:
    annotation = ev({"id": "c", "choices": [{"index": 0, "finish_reason": None, "content_filter_results": {}, "content_filter_offsets": {}}]})
    rec = play([(0.1, content("a")), (0.2, content("b")), (0.25, FINISH), (0.4, annotation), (0.5, DONE)])
    assert rec.status == "ok" and rec.t_last_token_s == pytest.approx(0.2) and rec.e2e_s == pytest.approx(0.5)


def test_in_stream_error_event() -> None:
    err = b'event: error\ndata: {"error": {"message": "boom"}}\n\n'
    rec = play([(0.1, content("part")), (0.2, err)])
    assert rec.status == "error" and "boom" in rec.error and rec.text == "part"


def test_malformed_chunk_is_a_protocol_error_with_the_bytes() -> None:
    rec = play([(0.1, content("a")), (0.2, b'data: {"choices": [\n\n')])
    assert rec.status == "protocol_error" and rec.bad_payload == '{"choices": ['


def test_stream_cut_without_done_is_interrupted_with_partial_text() -> None:
    rec = play([(0.1, content("a")), (0.2, content("b"))])
    assert rec.status == "interrupted" and rec.text == "ab"


def test_non_streaming_has_no_ttft_and_e2e_is_the_wait() -> None:
    body = orjson.dumps({"id": "x", "choices": [{"index": 0, "message": {"content": "all at once"}, "finish_reason": "stop"}],
                         "usage": {"prompt_tokens": 3, "completion_tokens": 3}})  # fmt: skip
    rec = play([(0.9, body[:10]), (1.0, body[10:])], stream=False)
    assert rec.status == "ok" and rec.ttft_s is None and rec.e2e_s == pytest.approx(1.0)
    assert rec.text == "all at once" and rec.output_tokens == 3 and rec.tokens_per_s is None


def test_cancelled_keeps_partial() -> None:
    rec = StreamRecord(deployment="d", provider="p", model="m")
    b = RecordBuilder(rec, 0.0)
    b.on_headers(0.01, 200, {})
    b.on_bytes(0.1, content("par"))
    b.finish(0.15, status="cancelled", error="stopped", error_type="cancelled")
    assert rec.status == "cancelled" and rec.text == "par" and rec.e2e_s == pytest.approx(0.15)


def test_http_error_body_is_one_plain_sentence() -> None:
    rec = StreamRecord(deployment="d", provider="p", model="m")
    b = RecordBuilder(rec, 0.0)
    b.on_headers(0.01, 429, {"retry-after-ms": "1500"})
    b.on_error_body(0.02, 429, b'{"error": {"message": "slow down"}}')
    assert rec.status == "error" and rec.error_type == "http_429"
    assert rec.error.startswith("HTTP 429: the deployment is rate-limited") and "slow down" in rec.error
    assert rec.ratelimit == {"retry-after-ms": "1500"}


def test_derived_metric_edge_cases() -> None:
    assert tokens_per_second(0.1, 0.1, 5) is None
    assert tokens_per_second(0.1, 0.5, 1) is None
    assert time_per_output_token(None, 0.5, 3) is None
    assert time_per_output_token(0.1, 0.5, 5) == pytest.approx(0.1)


def test_json_round_trip() -> None:
    rec = play([(0.1, content("a")), (0.2, content("b")), (0.3, FINISH), (0.31, DONE)])
    d = orjson.loads(orjson.dumps(rec.to_dict()))
    for key in ("ttft_s", "t_last_token_s", "e2e_s", "itl_s", "tpot_s", "tokens_per_s", "output_tokens", "tokens_source", "status"):
        assert key in d
    assert StreamRecord.from_dict(d).ttft_s == rec.ttft_s
