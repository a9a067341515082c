"""Foreign stream shapes and token conventions, one failure each (lone CR, BOM, pings, refusals, typed parts, reasoning
splits, finish-reason families, null errors, [DONE] without a finish reason, connection-close bodies).


Scripted byte arrivals into the real ``RecordBuilder`` (no network, no sleeping), except the
connection-close test, which needs the wire transport and a real loopback server.
"""

from __future__ import annotations

import asyncio

import orjson
import pytest

from sse_corpus import BY_NAME
from sse_playback import PlaybackServer
from streaming.core.client import AsyncClient
from streaming.core.config import Deployment
from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest

T0 = 100.0


def data(obj: object, eol: str = "\n") -> bytes:
    return b"data: " + orjson.dumps(obj) + (eol * 2).encode()


def delta(**d: object) -> dict[str, object]:
    return {"id": "c1", "choices": [{"index": 0, "delta": d, "finish_reason": None}]}


def stop(reason: str = "stop") -> dict[str, object]:
    return {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": reason}]}


def play(reads: list[tuple[float, bytes]], api: str = "chat", provider: str = "openai", model: str = "gpt-4o") -> StreamRecord:
    rec = StreamRecord(deployment="d", provider=provider, model=model, api=api)
    b = RecordBuilder(rec, T0)
    b.on_headers(T0 + 0.001, 200, {})
    for t, raw in reads:
        b.on_bytes(T0 + t, raw)
    return b.finish(T0 + reads[-1][0])


def o200k(text: str) -> int:
    import bpe_openai  # here, not at the top: each worker imports every test module, and this one costs 1.2 s of CPU

    return len(bpe_openai.get_encoding("o200k_base").encode(text, disallowed_special=()))


def test_lone_cr_event_is_dispatched_in_the_read_that_ends_it() -> None:
    rec = play([(0.010, data(delta(content="Hel"), "\r")), (0.025, data(delta(content="lo"), "\r")), (0.040, data(stop(), "\r")),
                (0.041, b"data: [DONE]\r\r")])  # fmt: skip
    assert rec.ttft_s == pytest.approx(0.010)  # was 0.025: one whole inter-event gap late
    assert rec.chunk_times_s == pytest.approx([0.010, 0.025])
    assert rec.status == "ok" and rec.text == "Hello"


def test_crlf_split_after_the_cr_is_still_one_line_end() -> None:
    first = data(delta(content="a"), "\r\n")
    rec = play([(0.010, first[:-1]), (0.020, first[-1:] + data(delta(content="b"))), (0.030, data(stop()) + b"data: [DONE]\n\n")])
    assert rec.chunk_times_s == pytest.approx([0.010, 0.020]) and rec.text == "ab"


def test_leading_bom_is_stripped_and_the_first_token_kept() -> None:
    first = {"id": "cmpl-1", "choices": [{"index": 0, "text": "First", "finish_reason": None}]}
    last = {"id": "cmpl-1", "choices": [{"index": 0, "text": " second", "finish_reason": "length"}]}
    bom = b"\xef\xbb\xbf"
    rec = play([(0.010, bom[:2]), (0.011, bom[2:] + data(first)), (0.030, data(last) + b"data: [DONE]\n\n")], api="completions")
    assert rec.text == "First second"  # was " second": the first event was lost
    assert rec.ttft_s == pytest.approx(0.011)


def test_ping_events_comments_and_unknown_events_are_ignored() -> None:
    rec = play([(0.005, b"event: ping\ndata:\n\n: keep-alive\n\n"), (0.010, data(delta(content="Hi"))),
                (0.015, b"event: ping\ndata:\n\nevent: heartbeat\ndata: tick\n\n"), (0.020, data(stop()) + b"data: [DONE]\n\n")])  # fmt: skip
    assert (rec.status, rec.error_type) == ("ok", None)  # was protocol_error: "not valid JSON"
    assert rec.text == "Hi" and rec.ttft_s == pytest.approx(0.010)


def test_chat_refusal_is_the_visible_answer_and_marked() -> None:
    rec = play([(0.005, data(delta(role="assistant", content=None, refusal=""))), (0.010, data(delta(refusal="I can’t help"))),
                (0.020, data(delta(refusal=" with that."))), (0.030, data(stop()) + b"data: [DONE]\n\n")])  # fmt: skip
    assert rec.status == "ok"  # was error / empty_stream
    assert rec.text == "I can’t help with that." and rec.ttft_s == pytest.approx(0.010)
    assert rec.refusal is True and rec.finish_reason == "stop"


def test_responses_refusal_events() -> None:
    def ev(obj: dict[str, object]) -> bytes:
        return f"event: {obj['type']}\n".encode() + data(obj)

    done = {"type": "response.completed", "response": {"id": "resp_1", "status": "completed", "usage": {"input_tokens": 5, "output_tokens": 4}}}
    rec = play([(0.010, ev({"type": "response.refusal.delta", "delta": "Non."})), (0.020, ev({"type": "response.refusal.done", "refusal": "Non."})),
                (0.030, ev(done))], api="responses")  # fmt: skip
    assert (rec.status, rec.text, rec.refusal, rec.finish_reason, rec.output_tokens) == ("ok", "Non.", True, "stop", 4)


def test_typed_content_parts_text_visible_thinking_reasoning() -> None:
    think = delta(content=[{"type": "thinking", "thinking": [{"type": "text", "text": "Je pense"}]}])
    rec = play([(0.010, data(think)), (0.020, data(delta(content=[{"type": "text", "text": "Sept"}]))),
                (0.030, data(stop()) + b"data: [DONE]\n\n")], provider="compatible", model="magistral-medium")  # fmt: skip
    assert rec.status == "ok" and rec.text == "Sept" and rec.reasoning_text == "Je pense"  # was a TypeError and no record
    assert rec.t_first_reasoning_s == pytest.approx(0.010) and rec.ttft_s == pytest.approx(0.020)


def test_reasoning_streamed_without_a_split_is_not_counted_as_visible() -> None:
    visible = "Hola, mundo. " * 10
    reads = [(0.010 + 0.001 * i, data(delta(reasoning_content="pensando "))) for i in range(50)]
    reads += [(0.100 + 0.010 * i, data(delta(content="Hola, mundo. "))) for i in range(10)]
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 120, "total_tokens": 129}}
    reads += [(0.200, data(stop()) + data(usage) + b"data: [DONE]\n\n")]
    rec = play(reads, provider="compatible", model="Qwen/Qwen3-8B")
    assert rec.output_tokens == o200k(visible)  # was 120: every reasoning token counted as visible
    assert rec.reasoning_tokens == 120 - o200k(visible)
    assert rec.tokens_source == "bpe-openai:o200k_base estimate (usage had no reasoning split)"
    assert rec.tokens_per_s == pytest.approx((o200k(visible) - 1) / 0.090)


def test_azure_foundry_top_level_reasoning_tokens_zero_is_no_split() -> None:
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 60, "total_tokens": 69, "reasoning_tokens": 0}}
    rec = play([(0.010, data(delta(reasoning_content="x " * 50))), (0.020, data(delta(content="Bonjour"))),
                (0.030, data(stop()) + data(usage) + b"data: [DONE]\n\n")], provider="azure", model="gpt-4o")  # fmt: skip
    assert (rec.output_tokens, rec.reasoning_tokens) == (o200k("Bonjour"), 60 - o200k("Bonjour"))
    assert rec.tokens_source == "bpe-openai:o200k_base (usage had no reasoning split)"


def test_xai_reasoning_outside_completion_decided_from_totals() -> None:
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 6, "total_tokens": 220,
                                                  "completion_tokens_details": {"reasoning_tokens": 200}}}  # fmt: skip
    rec = play([(0.010, data(delta(reasoning_content="hmm"))), (0.020, data(delta(content="Oui."))),
                (0.030, data(stop()) + data(usage) + b"data: [DONE]\n\n")], provider="compatible", model="grok-3-mini")  # fmt: skip
    assert (rec.output_tokens, rec.reasoning_tokens) == (6, 200)  # was (0, 200)
    assert rec.tokens_source == "usage (reasoning outside completion_tokens)"


def test_openai_reasoning_inside_completion_unchanged() -> None:
    usage = {"id": "c1", "choices": [], "usage": {"prompt_tokens": 14, "completion_tokens": 206, "total_tokens": 220,
                                                  "completion_tokens_details": {"reasoning_tokens": 200}}}  # fmt: skip
    rec = play([(0.020, data(delta(content="Oui."))), (0.030, data(stop()) + data(usage) + b"data: [DONE]\n\n")])
    assert (rec.output_tokens, rec.reasoning_tokens, rec.tokens_source) == (6, 200, "usage")


def test_unknown_incomplete_reason_mapped_by_family_raw_kept() -> None:
    end = {"type": "response.incomplete", "response": {"id": "r", "status": "incomplete", "incomplete_details": {"reason": "REASON_MAX_LEN"}}}
    rec = play([(0.010, data({"type": "response.output_text.delta", "delta": "Très"})), (0.020, data(end))], api="responses")
    assert (rec.finish_reason, rec.finish_reason_raw) == ("length", "REASON_MAX_LEN")  # was "REASON_MAX_LEN" alone
    assert rec.status == "ok"


def test_error_null_is_not_an_error() -> None:
    rec = play([(0.010, data({**delta(content="Hi"), "error": None})), (0.020, data({**stop(), "error": None}) + b"data: [DONE]\n\n")])
    assert (rec.status, rec.text) == ("ok", "Hi")  # was error: "the server reported an error mid-stream: None"


def test_done_without_finish_reason_is_recorded_with_a_warning() -> None:
    rec = play([(0.010, data(delta(content="Hi"))), (0.020, b"data: [DONE]\n\n")])
    assert rec.status == "ok" and rec.finish_reason is None
    assert rec.warnings == ["the stream ended with [DONE] but no finish_reason: the server did not say why it stopped"]


def test_connection_close_delimited_response_ends_ok_on_wire() -> None:
    case = BY_NAME["openai_chat_usage_logprobs"]
    with PlaybackServer() as server:
        dep = Deployment(name="close", provider="openai", model="gpt-4o", base_url=f"{server.url}/c/{case.name}/close/item9/v1")

        async def run() -> StreamRecord:
            async with AsyncClient([dep], transport="wire") as c:
                return await c.run(dep, LLMRequest.chat("hello"))

        rec = asyncio.run(run())
    assert (rec.status, rec.error_type, rec.transport) == ("ok", None, "wire")  # was interrupted / incomplete_stream
    assert rec.text == case.text and rec.output_tokens == 7
