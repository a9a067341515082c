"""The stream inspector: what it says about each event, live through the real client and from captures."""

from __future__ import annotations

import base64

import orjson
import pytest

from sse_corpus import BY_NAME
from sse_playback import PlaybackServer, writes
from streaming.core.client import Client
from streaming.core.config import Deployment
from streaming.core.inspector import InspectError, inspect_capture, inspect_live
from streaming.core.request import LLMRequest


def capture(name: str, framing: str = "lf") -> bytes:
    return b"".join(part for _, parts in writes(BY_NAME[name], framing) for part in parts)


def har(body: bytes, b64: bool) -> bytes:
    content = {"mimeType": "text/event-stream", "text": base64.b64encode(body).decode() if b64 else body.decode()}
    if b64:
        content["encoding"] = "base64"
    return orjson.dumps({"log": {"entries": [
        {"request": {"url": "https://x.example/api/other"}, "response": {"content": {"mimeType": "application/json", "text": "{}"}}},
        {"request": {"url": "https://x.example/v1/chat/completions"}, "response": {"content": content}},
    ]}})  # fmt: skip


AZURE_KINDS = [("filter annotation",), ("role", "filter annotation"), ("visible", "filter annotation"), ("visible", "filter annotation"),
               ("filter annotation", "finish: stop"), ("filter annotation",), ("usage",), ("done",)]  # fmt: skip


@pytest.mark.parametrize("form", ["sse", "har", "har-base64"])
def test_azure_capture_every_event_read(form: str) -> None:
    body = capture("azure_chat_filters_and_annotations", "crlf")
    raw = body if form == "sse" else har(body, form == "har-base64")
    ins = inspect_capture(raw, "cap")
    assert [e.kinds for e in ins.events] == AZURE_KINDS
    assert [e.marks for e in ins.events][2] == ("TTFT",) and sum(bool(e.marks) for e in ins.events) == 1
    assert ins.timed is False and all(e.t_s is None for e in ins.events)
    assert ins.accounting()["output_tokens"] == 5 and ins.record.text == "Grüße aus Köln"
    d = ins.to_dict()
    assert (d["ttft_event"], d["first_reasoning_event"]) == (2, None)
    assert ("HAR entry 1" in ins.source) is form.startswith("har")


def test_the_summary_reads_as_words_when_a_count_is_missing_or_one() -> None:
    azure = inspect_capture(capture("azure_chat_filters_and_annotations"), "cap").render()
    assert "reasoning —, input 14 (usage); 2 visible chunks" in azure and "None" not in azure
    one = inspect_capture(capture("deepseek_reasoning_content_with_details"), "cap").render()
    assert "; 1 visible chunk\n" in one


def test_reasoning_capture_marks_first_reasoning_and_ttft_and_ignored_pings() -> None:
    ins = inspect_capture(capture("vllm_reasoning_content_no_split", "ping"), "cap")
    kinds = [e.kinds for e in ins.events]
    assert kinds.count(("ignored",)) == 7  # the keep-alive pings; the one after [DONE] is never read
    d = ins.to_dict()
    assert ins.events[d["first_reasoning_event"]].kinds == ("reasoning",) and d["first_reasoning_event"] == 2
    assert ins.events[d["ttft_event"]].kinds == ("visible",) and d["ttft_event"] == 6
    assert ins.accounting()["tokens_source"] == "bpe-openai:o200k_base estimate (usage had no reasoning split)"
    assert "first reasoning untimed, set by event #2" in ins.render()


def test_live_inspection_times_each_event_against_the_server() -> None:
    case = BY_NAME["deepseek_reasoning_content_with_details"]
    with PlaybackServer() as server:
        dep = Deployment(name="ds", provider="compatible", model=case.model, base_url=f"{server.url}/c/{case.name}/cr/inspect/v1")
        with Client([dep]) as c:
            ins = inspect_live(c, dep, LLMRequest.chat("hi"))
        sent = server.sent[f"{case.name}/cr/inspect"]
    assert ins.timed and [e.kinds for e in ins.events] == [("role",), ("reasoning",), ("reasoning",), ("visible",), ("usage", "finish: stop"), ("done",)]
    d = ins.to_dict()
    assert (d["ttft_event"], d["first_reasoning_event"]) == (3, 1)
    t0 = ins.record.t0_monotonic
    assert len(sent) == len(ins.events)
    for e, (_, t_sent) in zip(ins.events, sent):
        assert t0 + e.t_s >= t_sent  # each arrival after its write (lone-CR framing): real stamps, not a capture's
    assert [e.t_s for e in ins.events] == sorted(e.t_s for e in ins.events)
    assert (ins.events[3].t_s, ins.events[1].t_s) == (ins.record.ttft_s, ins.record.t_first_reasoning_s)
    assert ins.source == "live: deployment ds (chat, httpx)"


@pytest.mark.parametrize(("raw", "words"), [
    (b"\x89PNG\r\n\x1a\n not a stream", "neither an SSE body"),
    (b'{"hello": 1}', "not a HAR file"),
    (b'{"log": {"entries": [{"response": {"content": {"mimeType": "text/html", "text": "<p>hi</p>"}}}]}}', "no text/event-stream"),
    (b'{"log": ', "not valid JSON"),
    (b'data: {"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}]}\n\ndata: {"choices":[{"index":0,"delta":{"content":" th', "truncated"),
], ids=["binary", "json-not-har", "har-without-sse", "broken-json", "truncated"])  # fmt: skip
def test_bad_captures_are_one_sentence(raw: bytes, words: str) -> None:
    with pytest.raises(InspectError, match=words) as e:
        inspect_capture(raw, "cap.bin")
    assert str(e.value).startswith("cap.bin: ") and "\n" not in str(e.value)
