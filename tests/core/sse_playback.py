"""A loopback SSE server that plays a corpus transcript byte for byte, under one framing, with timed writes.

Paths are ``/c/{case}/{framing}/{tag}/…`` (anything after the tag: the deployment's own route). Every event
is its own write (``split_utf8``: two writes, cut inside a UTF-8 character), ``gap_s`` (default ``GAP_S``)
after the previous one; the server notes its clock just before the write that completes each event, so a test
compares the client's TTFT and first-reasoning time with when the server actually sent those events. A test that registers a
``handshake(key)`` makes the server hold the next write after the first visible (``V``) and first reasoning
(``R``) event until the client says it has dispatched that event (up to ``HOLD_S``): a client that dispatches
an event only on a later read then shows up as ``HOLD_S`` late, however loaded the machine is. HTTP/1.1 chunked, except
``close``: an HTTP/1.0 response with no length, ended by closing the connection.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import orjson

from sse_corpus import BY_NAME, Case

GAP_S = 0.025
HOLD_S = 2.0
FRAMINGS = ("lf", "crlf", "cr", "bom", "comments", "ping", "nospace", "split_utf8", "close")
BOM = b"\xef\xbb\xbf"


def event_text(name: str | None, payload: Any, framing: str) -> bytes:
    """One event in ``framing``'s line endings and spelling."""
    eol = {"crlf": "\r\n", "cr": "\r"}.get(framing, "\n")
    sp = "" if framing == "nospace" else " "
    data = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
    lines = []
    if framing == "comments":
        lines.append(": keep-alive")
    if name:
        lines.append(f"event:{sp}{name}")
    if framing == "comments":
        lines.append(":a comment inside the event")
    lines.append(f"data:{sp}{data}")
    return (eol.join(lines) + eol + eol).encode()


def writes(case: Case, framing: str) -> list[tuple[str, list[bytes]]]:
    """(tag, the writes that carry one event) for each event; ``ping`` adds keep-alive events between them."""
    out: list[tuple[str, list[bytes]]] = []
    for tag, name, payload in case.events:
        raw = event_text(name, payload, framing)
        if framing == "split_utf8":
            cut = next((i + 1 for i, b in enumerate(raw) if b >= 0xC0), len(raw) // 2)
            out.append((tag, [raw[:cut], raw[cut:]]))
        else:
            out.append((tag, [raw]))
        if framing == "ping":
            out.append(("-", [b"event: ping\ndata:\n\n"]))
    if framing == "bom":
        tag, parts = out[0]
        out[0] = (tag, [BOM + parts[0], *parts[1:]])
    return out


class PlaybackServer:
    """Runs on its own thread and event loop; ``sent[path]`` lists (tag, clock reading) per event written."""

    def __init__(self, clock: Any = time.perf_counter, gap_s: float = GAP_S) -> None:
        self.clock = clock
        self.gap_s = gap_s
        self.sent: dict[str, list[tuple[str, float]]] = {}
        self.handshakes: dict[str, dict[str, threading.Event]] = {}
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PlaybackServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def handshake(self, key: str) -> dict[str, threading.Event]:
        """Events the client sets once it has dispatched the first ``V`` / ``R`` event of request ``key``."""
        return self.handshakes.setdefault(key, {"V": threading.Event(), "R": threading.Event()})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        server = self._loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()
        server.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            length = next((int(h.split(":", 1)[1]) for h in lines if h.lower().startswith("content-length:")), 0)
            await reader.readexactly(length)
            _, _, case_name, framing, tag, *_ = path.split("/")
            case, key = BY_NAME[case_name], "/".join((case_name, framing, tag))
            close = framing == "close"
            status = "HTTP/1.0 200 OK\r\n" if close else "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
            writer.write((status + "content-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n").encode())
            await writer.drain()
            log: list[tuple[str, float]] = []
            self.sent[key] = log
            hold = dict(self.handshakes.get(key, {}))
            for ev_tag, parts in writes(case, framing):
                await asyncio.sleep(self.gap_s)
                for i, part in enumerate(parts):
                    if i:
                        await asyncio.sleep(0.003)  # a separate read: the cut inside the character reaches the client
                    if i == len(parts) - 1:
                        log.append((ev_tag, self.clock()))
                    writer.write(part if close else b"%x\r\n%s\r\n" % (len(part), part))
                    await writer.drain()
                gate = hold.pop(ev_tag, None)
                if gate is not None:  # wait for the client's word before the next write: it must not need that write
                    await asyncio.get_running_loop().run_in_executor(None, gate.wait, HOLD_S)
            if not close:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            writer.close()
