"""Raw ASGI pieces of the built-in server: the timed SSE response, the relay's SSE response, bearer auth, the received-at
stamp, faults' helpers.

``TimedStream`` stamps the clock right after each chunk is handed to the transport (the
server's truth for accuracy checks) and stops the token source the moment the client
disconnects. The middlewares are pure ASGI, so streamed bodies pass through unbuffered.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi.responses import Response

from streaming.server.errors import error_response
from streaming.server.truth import Truth


class TimedStream(Response):
    """SSE body from an async iterator of (bytes, content_text|None); stamps each write into ``truth``."""

    media_type = "text/event-stream"

    def __init__(self, body: AsyncIterator[tuple[bytes, str | None]], truth: Truth, on_disconnect: Callable[[], None], clock: Callable[[], float]) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = [
            (b"content-type", b"text/event-stream; charset=utf-8"),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            (b"x-request-id", truth.response_id.encode()),
        ]
        if truth.queued_s is not None:  # the server's own queue time: the client splits TTFT into queue + the rest
            self.raw_headers.append((b"x-queue-time-ms", f"{truth.queued_s * 1000:.3f}".encode()))
        self.body_iter = body
        self.truth = truth
        self.on_disconnect = on_disconnect
        self.clock = clock

    async def _pump(self, send: Any) -> None:
        truth, clock = self.truth, self.clock
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        async for data, content in self.body_iter:
            t = clock()  # just before the bytes go to the socket: a reader cannot have them earlier
            await send({"type": "http.response.body", "body": data, "more_body": True})
            if truth.first_event_at is None:
                truth.first_event_at = t
            if content is not None and getattr(content, "reasoning", False):
                truth.reasoning_times.append(t)
            elif content is not None:
                truth.chunk_times.append(t)
                truth.chunk_texts.append(content)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        truth.finished_at = clock()

    async def _watch(self, receive: Any) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                return

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(self._watch(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump.done():
                exc = pump.exception()
                if exc is not None and not isinstance(exc, OSError):
                    raise exc
            else:  # the client went away first
                self.truth.cancelled_at = self.clock()
                self.on_disconnect()
                pump.cancel()
                with contextlib.suppress(BaseException):
                    await pump
        finally:
            watch.cancel()
            with contextlib.suppress(BaseException):
                await watch
            if self.truth.cancelled_at is None and self.truth.finished_at is None:
                self.truth.cancelled_at = self.clock()
                self.on_disconnect()
            with contextlib.suppress(Exception):
                await self.body_iter.aclose()  # type: ignore[attr-defined]


class BearerAuth:
    """Pure ASGI middleware (no wrapping of streamed bodies): every route needs the bearer key."""

    def __init__(self, app: Any, api_key: str) -> None:
        self.app = app
        self.key = api_key.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        # GET / is the static chat page (no data, no secrets); it sends the key on every data route it calls.
        # GET /metrics: counts and timings only, no secrets; a scraper on loopback reads it without the key.
        if scope["type"] == "http" and not (scope.get("method") == "GET" and scope.get("path") in ("/", "/metrics")):
            headers = dict(scope.get("headers") or ())
            given = headers.get(b"authorization", b"")
            token = given[7:] if given[:7].lower() == b"bearer " else headers.get(b"api-key", b"")
            if not hmac.compare_digest(token, self.key):
                resp = error_response(401, "missing or wrong API key: send 'Authorization: Bearer <key>'", "authentication_error")
                await resp(scope, receive, send)
                return
        await self.app(scope, receive, send)


class StampReceived:
    """Pure ASGI middleware: stamps the moment the app has the whole request body (before any parsing)."""

    def __init__(self, app: Any, clock: Callable[[], float]) -> None:
        self.app = app
        self.clock = clock

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        clock = self.clock

        async def stamped() -> Any:
            msg = await receive()
            if msg["type"] == "http.request" and not msg.get("more_body", False) and "received_at" not in state:  # else the protocol stamped it
                state["received_at"] = clock()
            return msg

        await self.app(scope, stamped, send)


class AfterReset(Response):
    """What a handler returns once it has reset the connection: sends nothing, waits for the server to notice."""

    def __init__(self) -> None:
        self.background = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(receive(), 5.0)  # http.disconnect: then uvicorn sends no 500 of its own


class Dropped(Exception):
    """Raised inside a response to cut the connection mid-stream (the 'drop' fault)."""


class RelayStream(Response):
    """Raw ASGI SSE response: sends each event as it comes, heartbeats when idle, and stops the source on disconnect."""

    media_type = "text/event-stream"
    SSE_HEADERS = [
        (b"content-type", b"text/event-stream; charset=utf-8"),
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"content-encoding", b"identity"),
    ]

    def __init__(self, body: AsyncIterator[bytes], heartbeat_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.status_code = 200
        self.background = None
        self.raw_headers = list(self.SSE_HEADERS)
        self.events = body
        self.heartbeat_s = heartbeat_s
        self.clock = clock
        self.last_write = clock()
        self.lock = asyncio.Lock()

    async def _write(self, send: Any, data: bytes) -> None:
        async with self.lock:
            await send({"type": "http.response.body", "body": data, "more_body": True})
            self.last_write = self.clock()

    async def _pump(self, send: Any) -> None:
        async for data in self.events:
            await self._write(send, data)
        async with self.lock:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _beat(self, send: Any) -> None:
        while True:
            idle = self.clock() - self.last_write
            if idle >= self.heartbeat_s:
                await self._write(send, b": hb\n\n")
                idle = 0.0
            await asyncio.sleep(self.heartbeat_s - idle)

    @staticmethod
    async def _watch(receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self.last_write = self.clock()
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(self._watch(receive))
        beat = asyncio.ensure_future(self._beat(send))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
            if pump.done() and pump.exception() is not None and not isinstance(pump.exception(), OSError):
                raise pump.exception()  # type: ignore[misc]
        finally:
            for task in (pump, watch, beat):
                task.cancel()
            for task in (pump, watch, beat):
                with contextlib.suppress(BaseException):
                    await task
            with contextlib.suppress(Exception):
                await self.events.aclose()  # type: ignore[attr-defined]  # closes the upstream stream
