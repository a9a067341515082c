from __future__ import annotations

import pytest

from streaming.core.sse import SSEDecoder, SSEEvent

STREAM = (
    b": heartbeat\r\n"
    b"data: {\"a\": 1}\r\n\r\n"
    b"event: error\ndata: line one\ndata: line two\n\n"
    b"id: 7\rdata:no-space\r\r"
    b"data: caf\xc3\xa9 \xe2\x82\xac\n\n"
    b"data: [DONE]\n\n"
)
EXPECTED = [
    SSEEvent(data='{"a": 1}'),
    SSEEvent(data="line one\nline two", event="error"),
    SSEEvent(data="no-space", id="7"),
    SSEEvent(data="café €", id="7"),
    SSEEvent(data="[DONE]", id="7"),
]


def decode(pieces: list[bytes]) -> list[SSEEvent]:
    d = SSEDecoder()
    out: list[SSEEvent] = []
    for p in pieces:
        out.extend(d.feed(p))
    out.extend(d.flush())
    return out


def test_whole_stream() -> None:
    assert decode([STREAM]) == EXPECTED


@pytest.mark.parametrize("cut", range(1, len(STREAM)))
def test_split_at_every_byte_boundary(cut: int) -> None:
    assert decode([STREAM[:cut], STREAM[cut:]]) == EXPECTED


def test_one_byte_at_a_time() -> None:
    assert decode([STREAM[i : i + 1] for i in range(len(STREAM))]) == EXPECTED


def test_comments_kept_when_asked() -> None:
    d = SSEDecoder(keep_comments=True)
    assert d.feed(b": ping\n\ndata: x\n\n") == [SSEEvent(comment="ping"), SSEEvent(data="x")]


def test_unterminated_event_is_dropped_at_end() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: partial") == []
    assert d.flush() == []
