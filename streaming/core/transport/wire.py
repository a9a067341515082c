"""A lean HTTP/1.1 transport for the asyncio client: one write per request, bytes stamped in ``data_received``.

Why not httpx2 here: under a burst of concurrent requests its stack yields between
writing the request headers and the body, and between the socket read and the chunk
reaching us, so tens of milliseconds of *client* scheduling land inside TTFT at high
concurrency. Here ``t0`` is read immediately before the single ``transport.write`` of the
whole request, and every read is stamped the moment the event loop hands it over,
before any parsing. Responses are parsed by httptools (the parser uvicorn uses).

Errors are raised as httpx2 exception types so the client classifies and retries them
exactly as it does for the httpx2 transport (used for the sync client and behind proxies).
"""

from __future__ import annotations

import asyncio
import collections
import ssl
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httptools
import httpx2

from streaming.core.transport.tls import trusted_context

Clock = Callable[[], float]


_END = object()


class _Conn(asyncio.Protocol):
    """One keep-alive connection; parses one response at a time."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.transport: asyncio.Transport | None = None
        self.chunks: collections.deque[Any] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.headers_future: asyncio.Future[None] | None = None
        self.closed = False
        self.error: BaseException | None = None
        self._t = 0.0
        self.reset()

    def reset(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status = 0
        self.headers: dict[str, str] = {}
        self.complete = False
        self.keep_alive = False
        self.t_headers: float | None = None
        self.chunks.clear()
        loop = asyncio.get_running_loop()
        self.headers_future = loop.create_future()

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._t = self.clock()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as e:
            self._fail(httpx2.RemoteProtocolError(f"invalid HTTP response: {e}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.complete and exc is None and self._close_delimited():
            self.on_message_complete()  # RFC 9112 §6.3: with no length and no chunking, the close ends the body
        if not self.complete:
            msg = "the connection closed before the response was complete"
            self._fail(httpx2.RemoteProtocolError(msg) if self.t_headers is not None else httpx2.ReadError(msg))

    def _close_delimited(self) -> bool:
        """Headers are in, and the body's end is the connection's close (HTTP/1.0 servers, some proxies)."""
        h = self.headers
        return self.t_headers is not None and "content-length" not in h and "chunked" not in h.get("transfer-encoding", "").lower()

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.keep_alive = self.parser.should_keep_alive()  # read now: llhttp resets it at message end
        self.t_headers = self._t
        if self.headers_future is not None and not self.headers_future.done():
            self.headers_future.set_result(None)

    def on_body(self, body: bytes) -> None:
        self.chunks.append((self._t, body))
        self._wake()

    def on_message_complete(self) -> None:
        self.complete = True
        self.chunks.append(_END)
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
        if self.headers_future is not None and not self.headers_future.done():
            self.headers_future.set_exception(exc)
        self._wake()

    def _wake(self) -> None:
        w = self.waiter
        if w is not None and not w.done():
            w.set_result(None)

    def abort(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


class WireResponse:
    """A response whose body is read as (stamp, bytes) pairs."""

    def __init__(self, pool: WirePool, key: tuple[str, int, bool], conn: _Conn, stall_s: float) -> None:
        self._pool = pool
        self._key = key
        self._conn = conn
        self._stall_s = stall_s
        self.status_code = conn.status
        self.headers: Mapping[str, str] = conn.headers
        self.t_headers = conn.t_headers
        self._released = False

    async def stamped(self) -> AsyncIterator[tuple[float, bytes]]:
        conn = self._conn
        loop = asyncio.get_running_loop()
        while True:
            while conn.chunks:
                item = conn.chunks.popleft()
                if item is _END:
                    self._release(reuse=True)
                    return
                yield item
            if conn.error is not None:
                raise conn.error
            conn.waiter = loop.create_future()
            timer = loop.call_later(self._stall_s, _timeout, conn.waiter)
            try:
                await conn.waiter
            finally:
                timer.cancel()
                conn.waiter = None

    async def aread(self) -> bytes:
        return b"".join([b async for _, b in self.stamped()])

    def _release(self, reuse: bool) -> None:
        if self._released:
            return
        self._released = True
        conn = self._conn
        ok = reuse and conn.complete and not conn.closed and conn.keep_alive
        if not ok:
            conn.abort()
        self._pool._release(self._key, conn if ok else None)

    async def aclose(self) -> None:
        self._release(reuse=self._conn.complete)


def _timeout(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(httpx2.ReadTimeout("no bytes arrived within the stall timeout"))


class WirePool:
    """Keep-alive connections per (host, port, tls), at most ``max_connections`` in use at once."""

    def __init__(self, max_connections: int, connect_s: float, stall_s: float, clock: Clock = time.perf_counter) -> None:
        self.max_connections = max_connections
        self.connect_s = connect_s
        self.stall_s = stall_s
        self.clock = clock
        self._idle: dict[tuple[str, int, bool], list[_Conn]] = {}
        self._slots: asyncio.Semaphore | None = None
        self._ssl: ssl.SSLContext | None = None

    def _sem(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_connections)
        return self._slots

    async def _connect(self, key: tuple[str, int, bool]) -> _Conn:
        host, port, tls = key
        loop = asyncio.get_running_loop()
        if tls and self._ssl is None:  # the CAs httpx2 trusts: SSL_CERT_FILE / SSL_CERT_DIR, else the system's (truststore on macOS, Windows)
            self._ssl = trusted_context()
        try:
            _, proto = await asyncio.wait_for(
                loop.create_connection(lambda: _Conn(self.clock), host, port, ssl=self._ssl if tls else None, server_hostname=host if tls else None),
                self.connect_s,
            )
        except asyncio.TimeoutError:
            raise httpx2.ConnectTimeout(f"could not connect to {host}:{port} within {self.connect_s:g} s") from None
        except OSError as e:
            raise httpx2.ConnectError(f"could not connect to {host}:{port}: {e.strerror or e}") from None
        return proto  # type: ignore[return-value]

    def _release(self, key: tuple[str, int, bool], conn: _Conn | None) -> None:
        if conn is not None:
            self._idle.setdefault(key, []).append(conn)
        self._sem().release()

    async def send(self, url: str, headers: Mapping[str, str], body: bytes, on_t0: Callable[[float], None]) -> WireResponse:
        """POST ``body``; ``on_t0`` gets the clock reading taken just before the request is written."""
        parts = urlsplit(url)
        tls = parts.scheme == "https"
        key = (parts.hostname or "", parts.port or (443 if tls else 80), tls)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"POST {target} HTTP/1.1", f"host: {host}", f"content-length: {len(body)}", "connection: keep-alive"]
        lines += [f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("host", "content-length", "connection")]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        await self._sem().acquire()
        try:
            conn = None
            idle = self._idle.get(key)
            while idle:
                c = idle.pop()
                if not c.closed:
                    conn = c
                    break
            if conn is None:
                conn = await self._connect(key)
            conn.reset()
            conn.error = None
            on_t0(self.clock())
            assert conn.transport is not None
            conn.transport.write(raw)
            assert conn.headers_future is not None
            try:
                await asyncio.wait_for(asyncio.shield(conn.headers_future), self.stall_s)
            except asyncio.TimeoutError:
                conn.headers_future.cancel()  # nobody awaits it now: no "exception never retrieved" when the abort fails it
                conn.abort()
                raise httpx2.ReadTimeout("the server did not answer within the stall timeout") from None
        except BaseException:
            if conn is not None:
                conn.abort()
            self._sem().release()
            raise
        return WireResponse(self, key, conn, self.stall_s)

    async def aclose(self) -> None:
        for conns in self._idle.values():
            for c in conns:
                c.abort()
        self._idle.clear()
