"""Where ``streaming.timed`` stamps an openai SDK call: at the SDK's httpx2 transport, not around ``create()``.

The SDK builds the request (options, headers, JSON) and, on its first call in a process, much of its
own machinery, after ``create()`` is called; it parses each event into a pydantic object before handing
it over. A timer around ``create()`` counts all of that as the server's time. A transport sees the wire:

- ``t0``: the instant the request headers start going to the connection (httpcore's trace hook,
  ``send_request_headers.started``, the same mark as the native httpx2 transport), per attempt;
- ``t_headers``: when the inner transport returns the response (its headers are in);
- every read of the body, stamped as it returns. The SDK decodes events lazily from those reads, so
  when it hands over an event, the last read stamped is the one that completed it.

``instrument(http_client)`` wraps an ``httpx2.Client`` / ``AsyncClient`` in place (its transport and
mounts) and returns it: ``openai.OpenAI(http_client=instrument(openai.DefaultHttpxClient()))``.
``timed`` also instruments the SDK client it is given, once. A request made while no ``timed`` call
is under way passes through untouched. Which call a request belongs to travels in a context
variable, set around ``create()``: the SDK sends in the caller's thread (sync) or task (asyncio).
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx2

Clock = Callable[[], float]


class WireMarks:
    """What the transport saw of one ``timed`` call: sends, headers, the last read. Absolute clock readings."""

    __slots__ = ("clock", "first_send", "send", "headers", "last_read", "attempts", "seen")

    def __init__(self, clock: Clock = time.perf_counter) -> None:
        self.clock = clock
        self.first_send: float | None = None  # the first attempt's send (the SDK retries 429/5xx/connection errors itself)
        self.send: float | None = None  # this attempt's send
        self.headers: float | None = None
        self.last_read: float | None = None
        self.attempts = 0
        self.seen = False  # a request of this call went through an instrumented transport

    def _start(self) -> None:
        self.seen = True
        self.attempts += 1
        self.send = self.headers = self.last_read = None

    def _sent(self, name: str) -> None:
        if self.send is None and name.endswith("send_request_headers.started"):
            self.send = self.clock()
            if self.first_send is None:
                self.first_send = self.send

    def _fallback_send(self, t: float) -> None:
        """A transport without httpcore's trace hook (ASGI, mock): the instant it was handed the request."""
        if self.send is None:
            self.send = t
            if self.first_send is None:
                self.first_send = t


CURRENT: contextvars.ContextVar[WireMarks | None] = contextvars.ContextVar("streaming_sdk_wire", default=None)


class _StampedStream(httpx2.SyncByteStream):
    def __init__(self, inner: Any, marks: WireMarks) -> None:
        self._inner, self._marks = inner, marks

    def __iter__(self) -> Iterator[bytes]:
        m = self._marks
        for part in self._inner:
            m.last_read = m.clock()
            yield part

    def close(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            close()


class _AsyncStampedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: Any, marks: WireMarks) -> None:
        self._inner, self._marks = inner, marks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        m = self._marks
        async for part in self._inner:
            m.last_read = m.clock()
            yield part

    async def aclose(self) -> None:
        aclose = getattr(self._inner, "aclose", None)
        if aclose is not None:
            await aclose()


class StampingTransport(httpx2.BaseTransport):
    """Wraps an httpx2 transport: stamps a ``timed`` call's send, headers and reads; passes anything else through."""

    def __init__(self, inner: httpx2.BaseTransport | None = None) -> None:
        self.inner = inner if inner is not None else httpx2.HTTPTransport()

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        m = CURRENT.get()
        if m is None:
            return self.inner.handle_request(request)
        m._start()
        prior = request.extensions.get("trace")

        def trace(name: str, info: Any) -> None:
            m._sent(name)
            if prior is not None:
                prior(name, info)

        request.extensions = {**request.extensions, "trace": trace}
        t_handed = m.clock()
        resp = self.inner.handle_request(request)
        m.headers = m.clock()
        m._fallback_send(t_handed)
        resp.stream = _StampedStream(resp.stream, m)
        return resp

    def close(self) -> None:
        self.inner.close()


class AsyncStampingTransport(httpx2.AsyncBaseTransport):
    """The asyncio twin of ``StampingTransport``."""

    def __init__(self, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.inner = inner if inner is not None else httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        m = CURRENT.get()
        if m is None:
            return await self.inner.handle_async_request(request)
        m._start()
        prior = request.extensions.get("trace")

        async def trace(name: str, info: Any) -> None:
            m._sent(name)
            if prior is not None:
                await prior(name, info)

        request.extensions = {**request.extensions, "trace": trace}
        t_handed = m.clock()
        resp = await self.inner.handle_async_request(request)
        m.headers = m.clock()
        m._fallback_send(t_handed)
        resp.stream = _AsyncStampedStream(resp.stream, m)
        return resp

    async def aclose(self) -> None:
        await self.inner.aclose()


def instrument(http_client: Any) -> Any:
    """Wrap an ``httpx2.Client`` or ``AsyncClient``'s transports (in place, once) so ``timed`` stamps at the wire; returns it."""
    wrap: type[Any]
    if isinstance(http_client, httpx2.AsyncClient):
        wrap = AsyncStampingTransport
    elif isinstance(http_client, httpx2.Client):
        wrap = StampingTransport
    else:
        raise TypeError(f"instrument() takes an httpx2.Client or httpx2.AsyncClient, not {type(http_client).__name__}")
    # httpx2 picks a transport per URL from _mounts (proxies), else _transport; it has no public way to swap them.
    if not isinstance(http_client._transport, wrap):
        http_client._transport = wrap(http_client._transport)
    mounts = getattr(http_client, "_mounts", {})
    for pattern, transport in list(mounts.items()):
        if transport is not None and not isinstance(transport, wrap):
            mounts[pattern] = wrap(transport)
    return http_client


def instrument_sdk(create: Any) -> bool:
    """Instrument the http client behind an SDK method (``client.chat.completions.create``); False when there is none to find."""
    sdk_client = getattr(getattr(create, "__self__", None), "_client", None)  # a resource keeps its OpenAI client as _client
    http_client = getattr(sdk_client, "_client", None)  # … which keeps its httpx2 client as _client
    if not isinstance(http_client, (httpx2.Client, httpx2.AsyncClient)):
        return False
    instrument(http_client)
    return True
