"""Incremental Server-Sent Events decoder: bytes in any split → events.

Follows the WHATWG parsing rules: lines end in ``\r\n``, ``\r`` or ``\n``; a blank
line dispatches; ``data:`` lines join with ``\n``; lines starting with ``:`` are
comments; one leading UTF-8 BOM is stripped. Bytes may be split anywhere, including
inside a ``\r\n`` pair, the BOM or a multi-byte UTF-8 character, because whole lines
are decoded only once complete. A ``\r`` at the end of a read is already a line end
(waiting for a possible ``\n`` would dispatch every lone-CR event one read late);
a ``\n`` that starts the next read is then the second half of that ``\r\n`` and is
swallowed. At end of stream, pending data is discarded: an event not ended by a
blank line is never dispatched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EOL = re.compile(rb"\r\n|\r|\n")
BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class SSEEvent:
    """One dispatched event, or a comment line when ``comment`` is set."""

    data: str = ""
    event: str = "message"
    id: str | None = None
    comment: str | None = None


class SSEDecoder:
    """Feed bytes, get complete events back; keeps partial lines between feeds."""

    __slots__ = ("_buf", "_data", "_event", "_id", "keep_comments", "_skip_lf", "_at_start")

    def __init__(self, keep_comments: bool = False) -> None:
        self._buf = b""
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None
        self.keep_comments = keep_comments
        self._skip_lf = False  # the last read ended in \r: a \n first in the next read belongs to it
        self._at_start = True  # no byte seen yet: a BOM may still come (possibly split across reads)

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """One read; returns the events it completed."""
        buf = self._buf + chunk if self._buf else chunk
        if not buf:
            return []
        if self._at_start:
            if len(buf) < len(BOM) and BOM.startswith(buf):
                self._buf = buf  # maybe the start of a BOM: wait for more
                return []
            self._at_start = False
            if buf.startswith(BOM):
                buf = buf[len(BOM) :]
        if self._skip_lf and buf:
            self._skip_lf = False
            if buf[:1] == b"\n":
                buf = buf[1:]
        out: list[SSEEvent] = []
        pos = 0
        end = len(buf)
        for m in _EOL.finditer(buf):
            ev = self._line(buf[pos : m.start()])
            pos = m.end()
            if pos == end and buf[m.start() : pos] == b"\r":
                self._skip_lf = True
            if ev is not None:
                out.append(ev)
        self._buf = buf[pos:]
        return out

    def flush(self) -> list[SSEEvent]:
        """End of stream: a line without its terminator and an event without its blank line are discarded (WHATWG)."""
        self._buf, self._data, self._event = b"", [], None
        return []

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
