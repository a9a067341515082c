"""Every corpus case under every legal SSE framing, through the real client against a loopback server.

Each run asserts the text, finish reason, status, refusal flag, visible and reasoning tokens and how they
were counted, and TTFT / first-reasoning time against the server's own clock reading when it wrote those
events (same process, same ``perf_counter``). The server holds its next write until the client's observer
hook says the event was dispatched (``sse_playback.handshake``), so the check does not depend on the
machine's load: the stamp must fall after the server wrote the event and before it wrote the next one. A
parser that dispatches an event a read late (lone CR before the fix) is then ``HOLD_S`` late and fails. The
milliseconds themselves, on a quiet machine, are ``benchmarks/framing_accuracy.py``'s figures.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterator

import pytest

from sse_corpus import CASES, NO_SPLIT, TOKENIZER, Case
from sse_playback import FRAMINGS, HOLD_S, PlaybackServer
from streaming.core.client import AsyncClient
from streaming.core.config import Deployment
from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest

HTTPX_FRAMINGS = ("lf", "cr", "split_utf8", "close")  # httpx2 gets the same bytes; the framings that differ at the transport
RUNS = [(c, f, "wire") for c in CASES for f in FRAMINGS] + [(c, f, "httpx") for c in CASES for f in HTTPX_FRAMINGS]

# One worker plays every case (247 in about 14 s, mostly waiting on the playback): one playback server, and only it
# imports the tokenizer (about 1.2 s of CPU), which the client also loads for the cases without usage.
pytestmark = pytest.mark.xdist_group("conformance")


@functools.cache
def _encoding() -> object:
    import bpe_openai

    return bpe_openai.get_encoding("o200k_base")


def o200k(text: str) -> int:
    return len(_encoding().encode(text, disallowed_special=()))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def playback() -> Iterator[PlaybackServer]:
    """Events 5 ms apart (the benchmark's 25 ms is for its timing figures; the checks here hold on the handshake)."""
    with PlaybackServer(gap_s=0.005) as s:
        yield s


def deployment(case: Case, base: str) -> Deployment:
    """A deployment of the case's provider pointed at the playback server."""
    if case.provider == "azure":
        return Deployment(name=case.name, provider="azure", model=case.model, endpoint=base, deployment="dep", api_version="2024-10-21", api=case.api)
    return Deployment(name=case.name, provider=case.provider, model=case.model, base_url=f"{base}/v1", api=case.api)


def request(case: Case) -> LLMRequest:
    if case.api == "completions":
        return LLMRequest(messages=[], prompt="hello", api="completions", max_tokens=64)
    return LLMRequest.chat("hello", api=case.api, max_tokens=64)


def play(server: PlaybackServer, case: Case, framing: str, transport: str) -> StreamRecord:
    dep = deployment(case, f"{server.url}/c/{case.name}/{framing}/{transport}")
    seen = server.handshake(f"{case.name}/{framing}/{transport}")

    def observe(t_s: float, event: str, data: str, b: RecordBuilder) -> None:
        if b.rec.chunks or b.tool_times:
            seen["V"].set()
        if b.rec.t_first_reasoning_s is not None:
            seen["R"].set()

    async def run() -> StreamRecord:
        async with AsyncClient([dep], transport=transport) as c:
            s = c.stream(dep, request(case))
            s.observer = observe  # the client's own hook (the stream inspector's): tells the server it may go on
            return await s.run()

    return asyncio.run(run())


def window(server: PlaybackServer, key: str, tag: str) -> tuple[float, float] | None:
    """(when the server wrote the first ``tag`` event, when it wrote the next event) on the shared clock."""
    log = server.sent[key]
    i = next((i for i, (g, _) in enumerate(log) if g == tag), None)
    if i is None:
        return None
    return log[i][1], log[i + 1][1] if i + 1 < len(log) else float("inf")


def check_stamp(what: str, stamp: float, win: tuple[float, float]) -> None:
    written, next_written = win
    assert written <= stamp < next_written, (f"{what} {(stamp - written) * 1000:+.1f} ms after the server wrote its event, "
                                             f"{(stamp - next_written) * 1000:+.1f} ms after the next write (held up to {HOLD_S:g} s)")  # fmt: skip


@pytest.mark.parametrize(("case", "framing", "transport"), RUNS, ids=[f"{c.name}-{f}-{t}" for c, f, t in RUNS])
def test_case_under_framing(playback: PlaybackServer, case: Case, framing: str, transport: str) -> None:
    rec = play(playback, case, framing, transport)
    assert rec.transport == transport
    assert (rec.status, rec.error) == (case.status, rec.error if case.status != "ok" else None)
    assert rec.text == case.text
    assert rec.finish_reason == case.finish_reason
    assert rec.finish_reason_raw == case.finish_reason_raw
    assert rec.refusal is case.refusal
    assert len(rec.warnings) == case.warnings, rec.warnings
    if case.output_tokens is NO_SPLIT:
        visible = o200k(case.text)
        assert (rec.output_tokens, rec.reasoning_tokens) == (visible, case.completion_tokens - visible)
    elif case.output_tokens is TOKENIZER:
        assert rec.output_tokens == o200k(case.text)
    else:
        assert rec.output_tokens == case.output_tokens
    if case.reasoning_tokens is not NO_SPLIT:
        assert rec.reasoning_tokens == case.reasoning_tokens
    assert rec.tokens_source == case.tokens_source
    for k, v in case.extra.items():
        assert getattr(rec, k) == v, k
    key = f"{case.name}/{framing}/{transport}"
    assert rec.t0_monotonic is not None
    visible, reasoning = window(playback, key, "V"), window(playback, key, "R")
    assert visible is not None and rec.ttft_s is not None
    check_stamp("TTFT", rec.t0_monotonic + rec.ttft_s, visible)
    if reasoning is None:
        assert rec.t_first_reasoning_s is None
    else:
        assert rec.t_first_reasoning_s is not None
        check_stamp("first reasoning", rec.t0_monotonic + rec.t_first_reasoning_s, reasoning)
