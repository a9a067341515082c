"""One request in flight: attempts, retries, cancel, and the text deltas as they arrive.

``Stream`` (synchronous) and ``AsyncStream`` (asyncio) share ``_Attempts``: the one
decision path for what follows a failed attempt (retry after a wait, fall back without
``stream_options``, or finish). Each attempt gets a fresh record; the failed ones become
typed ``Attempt`` entries on the final record. The final record is decided once, by
``RecordBuilder.finish``, whatever ended the request: the end of the body, an error,
``cancel()`` from another thread, ``close()``, or ``abort()`` by a runner's timeout.

Retries happen only before the first byte of a successful response (429, 5xx,
connection errors, slow headers); ``t0`` is the final attempt's, so TTFT never includes
them, and ``ttft_incl_retries_s`` says what the user waited through them. After tokens
have arrived nothing is retried silently.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import httpx2

from streaming.core.protocol import RecordBuilder
from streaming.core.protocol.builder import Observer
from streaming.core.record import Attempt, StreamRecord
from streaming.core.request import ADAPTED, RETRY_STATUS, LLMRequest, adaptation
from streaming.core.transport import httpx as hx
from streaming.core.transport import transport_version

if TYPE_CHECKING:
    from streaming.core.client_base import ClientBase
    from streaming.core.config import Deployment

CANCELLED = "stopped by the user before the answer finished"


_versions: dict[str, str] = {}  # transport name -> "package version", looked up once


def _usage_rejected(rec: StreamRecord) -> bool:
    return rec.http_status == 400 and "stream_options" in (rec.error or "")


class _Attempts:
    """What the sync and async streams share: the current attempt's record, and what to do after a failed attempt."""

    def __init__(self, client: ClientBase, dep: Deployment, req: LLMRequest) -> None:
        self._client = client
        self.deployment = dep
        req = req.resolved(dep)  # the API and the reasoning effort, from the deployment unless the request names them
        self.request = req
        self._include_usage = req.include_usage
        self.record = client.new_record(dep, req, req.include_usage)  # the current attempt's; the final one once finished
        self._prepared = client.prepare(dep, req, req.include_usage)  # raises before any request
        self._transport = client.transport_for(self._prepared[0])
        self._mark(self.record)
        self._builder: RecordBuilder | None = None
        self._response: Any = None
        self._finished = False
        self._cancelled = False
        self._gen: Any = None
        self._t0: float | None = None
        self._first_t0: float | None = None
        self._attempts: list[Attempt] = []
        self.observer: Observer | None = None  # set before iterating: sees every parsed event (the stream inspector)

    def _mark(self, rec: StreamRecord) -> None:
        """Say on the record how it is measured."""
        rec.transport = self._transport
        rec.transport_version = _versions.setdefault(self._transport, transport_version(self._transport))

    def _finish(self, t: float | None = None, **kw: Any) -> StreamRecord:
        """Decide the final record (once): the builder does it, with the failed attempts before this one."""
        if self._finished:
            return self.record
        self._finished = True
        clock = self._client.clock
        t = clock() if t is None else t
        if self._builder is None:  # never got a response
            self._builder = RecordBuilder(self.record, self._t0 if self._t0 is not None else t)
        if self._cancelled and not self._builder.done and kw.get("status") != "cancelled":
            kw = dict(status="cancelled", error=CANCELLED, error_type="cancelled")  # our own cancel() cut the connection
        return self._builder.finish(t, attempts=self._attempts, first_t0=self._first_t0, **kw)

    def _new_attempt(self) -> None:
        if self._builder is not None:  # a retry: a fresh record for the new attempt
            self.record = self._client.new_record(self.deployment, self.request, self._include_usage)
            self._mark(self.record)
        self._builder = None
        self._t0 = None

    def _sent(self, t_call: float, t0: float | None) -> float:
        """Record when the request went onto the wire (else when send was called), and the wait before it."""
        self._t0 = t0 if t0 is not None else t_call
        if self._first_t0 is None:
            self._first_t0 = self._t0
        self.record.connect_s = self._t0 - t_call
        return self._t0

    def _begin(self, t0: float, t_headers: float, resp: Any) -> RecordBuilder:
        self._builder = b = RecordBuilder(self.record, t0, self.observer)
        b.on_headers(t_headers, resp.status_code, resp.headers)
        return b

    def _after_error_status(self, status: int, headers: Mapping[str, str], body: bytes, t: float) -> float | None:
        """An error response was read: seconds to wait before the next attempt, or None when the record is final."""
        c, policy = self._client, self._client.retry
        assert self._builder is not None
        self._builder.on_error_body(t, status, body)
        if self._include_usage and _usage_rejected(self.record):  # old Azure api-versions reject stream_options
            self._include_usage = False
            self._prepared = c.prepare(self.deployment, self.request, False)
            self._builder = None  # not a failed attempt: the same request again, without stream_options
            self.record = c.new_record(self.deployment, self.request, False)
            self._mark(self.record)
            return 0.0
        change = adaptation(status, body)
        name = self.deployment.name
        if change is not None and change not in ADAPTED.get(name, frozenset()):
            # a model that refuses max_tokens or temperature (a reasoning model not marked so): adapt once, remember it
            # for this process, and say so on the record (``adapted``); not a failed attempt
            ADAPTED[name] = ADAPTED.get(name, frozenset()) | {change}
            self._prepared = c.prepare(self.deployment, self.request, self._include_usage)
            self._builder = None
            self.record = c.new_record(self.deployment, self.request, self._include_usage)
            return 0.0
        if status in RETRY_STATUS and len(self._attempts) < policy.max_retries and headers.get("x-should-retry") != "false":
            wait = policy.wait(len(self._attempts), headers, c._rng)
            self._note_attempt(t, wait)
            return wait
        self._finish(t)
        return None

    def _after_exception(self, exc: httpx2.HTTPError, got_headers: bool) -> float | None:
        """A transport error: seconds to wait before retrying (only before any response), or None when final."""
        c, policy = self._client, self._client.retry
        t = c.clock()
        status, etype, msg = hx.classify(exc, got_headers)
        if self._builder is None:
            self._builder = RecordBuilder(self.record, self._t0 if self._t0 is not None else t)
        if not self._cancelled and isinstance(exc, hx.RETRYABLE) and not hx.tls_problem(exc) and not got_headers and len(self._attempts) < policy.max_retries:
            wait = policy.wait(len(self._attempts), None, c._rng)
            self._builder.on_failure(t, status, etype, msg)
            self._note_attempt(t, wait)
            return wait
        self._finish(t, status=status, error=msg, error_type=etype)
        return None

    def _note_attempt(self, t: float, wait: float) -> None:
        rec = self.record
        t0 = self._t0 if self._t0 is not None else t
        first = self._first_t0 if self._first_t0 is not None else t0
        self._attempts.append(Attempt(attempt=len(self._attempts), started_s=t0 - first, duration_s=t - t0, status=rec.status,
                                      http_status=rec.http_status, error_type=rec.error_type, error=rec.error,
                                      request_id=rec.request_id, wait_s=wait))  # fmt: skip

    @property
    def reasoning_so_far(self) -> tuple[float | None, str]:
        """(first reasoning time from t0, reasoning text) streamed so far: safe to read from another thread while the stream runs."""
        b = self._builder
        if b is None:
            return None, ""
        return self.record.t_first_reasoning_s, "".join(list(b.reasoning_parts))

    def cancel(self) -> None:
        """Stop now, from any thread: the socket is shut down so a read blocked in a long silence returns at once;
        the record says ``cancelled`` (unless the answer had already completed)."""
        self._cancelled = True
        resp = self._response
        ns = resp.extensions.get("network_stream") if resp is not None and hasattr(resp, "extensions") else None
        sock = ns.get_extra_info("socket") if ns is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in another thread
            except OSError:
                pass  # already closed


class Stream(_Attempts):
    """A streaming (or non-streaming) request in flight. Iterate for text deltas; ``.record`` at the end.

    Use as a context manager, or call ``close()``: leaving early closes the HTTP
    connection, and the record says ``cancelled``.
    """

    _client: ClientBase  # a Client

    def __enter__(self) -> Stream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    def close(self) -> StreamRecord:
        """Stop reading; close the connection. A request stopped before its end is recorded as cancelled."""
        self._finish(status="cancelled", error=CANCELLED, error_type="cancelled")
        if self._gen is not None:
            self._gen.close()
        if self._response is not None:
            self._response.close()
        return self.record

    def run(self) -> StreamRecord:
        """Read to the end, ignoring deltas."""
        for _ in self:
            pass
        return self.record

    def _run(self) -> Iterator[str]:
        c = self._client
        clock = c.clock
        try:
            while True:
                self._new_attempt()
                got_headers = False
                try:
                    url, headers, body = self._prepared
                    resp, t0, t_headers, chunks = hx.send(c.http, clock, url, headers, body, self._sent)
                    self._response = resp
                    got_headers = True
                    b = self._begin(t0, t_headers, resp)
                    if resp.status_code >= 400:
                        wait = self._after_error_status(resp.status_code, resp.headers, resp.read(), clock())
                        resp.close()
                        if wait is None:
                            return
                        time.sleep(wait)
                        continue
                    for t, data in chunks:
                        yield from b.on_bytes(t, data)
                    self._finish()
                    return
                except httpx2.HTTPError as e:
                    wait = self._after_exception(e, got_headers)
                    if wait is None:
                        return
                    time.sleep(wait)
        finally:
            if self._response is not None:
                self._response.close()


class AsyncStream(_Attempts):
    """The asyncio twin of ``Stream``: ``async for delta in s``, then ``s.record``."""

    _client: ClientBase  # an AsyncClient

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[str]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    async def aclose(self) -> StreamRecord:
        self._finish(status="cancelled", error="stopped before the answer finished", error_type="cancelled")
        if self._gen is not None:
            await self._gen.aclose()
        if self._response is not None:
            await self._response.aclose()
        return self.record

    async def abort(self, error_type: str, error: str) -> StreamRecord:
        """End the request as failed (a runner's time limit, an unexpected error), unless it has already finished."""
        self._finish(status="error", error=error, error_type=error_type)
        return await self.aclose()

    async def run(self) -> StreamRecord:
        async for _ in self:
            pass
        return self.record

    async def _send(self) -> tuple[Any, float, float, AsyncIterator[tuple[float, bytes]]]:
        """(response, t0, t_headers, stamped body) through the client's transport (wire, or httpx2)."""
        c = self._client
        url, headers, body = self._prepared
        if c.wire is None or self._transport == "httpx":
            return await hx.asend(c.http, c.clock, url, headers, body, self._sent)
        box: list[float] = []
        t_call = c.clock()
        try:
            resp = await c.wire.send(url, headers, body, box.append)
        finally:
            t0 = self._sent(t_call, box[0] if box else None)
        return resp, t0, resp.t_headers, resp.stamped()

    async def _run(self) -> AsyncIterator[str]:
        clock = self._client.clock
        try:
            while True:
                self._new_attempt()
                got_headers = False
                try:
                    resp, t0, t_headers, chunks = await self._send()
                    self._response = resp
                    got_headers = True
                    b = self._begin(t0, t_headers, resp)
                    if resp.status_code >= 400:
                        wait = self._after_error_status(resp.status_code, resp.headers, await resp.aread(), clock())
                        await resp.aclose()
                        if wait is None:
                            return
                        await asyncio.sleep(wait)
                        continue
                    async for t, data in chunks:
                        for d in b.on_bytes(t, data):
                            yield d
                    self._finish()
                    return
                except httpx2.HTTPError as e:
                    wait = self._after_exception(e, got_headers)
                    if wait is None:
                        return
                    await asyncio.sleep(wait)
        finally:
            if self._response is not None:
                await self._response.aclose()
