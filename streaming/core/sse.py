"""Incremental Server-Sent Events decoder: bytes in any split → events.

Follows the WHATWG parsing rules: lines end in ``\r\n``, ``\r`` or ``\n``; a blank
line dispatches; ``data:`` lines join with ``\n``; lines starting with ``:`` are
comments. Bytes may be split anywhere, including inside a ``\r\n`` pair or a
multi-byte UTF-8 character, because whole lines are decoded only once complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EOL = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event, or a comment line when ``comment`` is set."""

    data: str = ""
    event: str = "message"
    id: str | None = None
    comment: str | None = None


class SSEDecoder:
    """Feed bytes, get complete events back; keeps partial lines between feeds."""

    __slots__ = ("_buf", "_data", "_event", "_id", "keep_comments")

    def __init__(self, keep_comments: bool = False) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self.keep_comments = keep_comments

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        buf = self._buf + chunk if self._buf else chunk
        out: list[SSEEvent] = []
        pos = 0
        end = len(buf)
        for m in _EOL.finditer(buf):
            if m.end() == end and buf[m.start() : m.end()] == b"\r":
                break  # a lone trailing \r may be the first half of \r\n
            ev = self._line(buf[pos : m.start()])
            pos = m.end()
            if ev is not None:
                out.append(ev)
        self._buf = buf[pos:]
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: a final line without its terminator still counts; an undispatched event is dropped."""
        out: list[SSEEvent] = []
        if self._buf:
            rest, self._buf = self._buf.rstrip(b"\r"), b""
            ev = self._line(rest)
            if ev is not None:
                out.append(ev)
        self._data, self._event = [], None
        return out

    def _line(self, raw: bytes) -> SSEEvent | None:
        if not raw:
            if not self._data:
                self._event = None
                return None
            ev = SSEEvent(data="\n".join(self._data), event=self._event or "message", id=self._id)
            self._data, self._event = [], None
            return ev
        line = raw.decode("utf-8", errors="replace")
        if line[0] == ":":
            return SSEEvent(comment=line[1:].lstrip(" ")) if self.keep_comments else None
        name, sep, value = line.partition(":")
        if sep and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None
