"""One request → text deltas as they arrive, and a ``StreamRecord`` at the end.

The same path serves every deployment (Azure, OpenAI, compatible servers, and
our own server for ``local`` and ``sim-*``): an ``httpx2`` request, raw bytes
stamped with the clock as each read returns, and ``RecordBuilder`` for parsing
and timing. ``Client`` is synchronous (CLI, app); ``AsyncClient`` is the same
over asyncio (benchmark runner).

Retries happen only before the first byte of a successful response (429, 5xx,
connection errors, slow headers); their waits are recorded beside TTFT, never in
it, because ``t0`` is taken for the attempt that succeeded. After tokens have
arrived nothing is retried silently: a drop is ``interrupted`` with its partial text,
and the opt-in ``resume`` strategy (``resume_request``, ``Client.resume``,
``run_resuming``) re-asks with the partial answer as a new, linked record (``resume_of``).
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx2
import orjson

from streaming.core.auth import Credentials
from streaming.core.config import Deployment, find_deployment, load_deployments
from streaming.core.protocol import RecordBuilder
from streaming.core.record import StreamRecord, utc_now
from streaming.core.request import (
    RETRY_STATUS,
    LLMRequest,
    RetryPolicy,
    Timeouts,
    can_resume,
    resume_request,
)
from streaming.core.transport.wire import WirePool
from streaming.errors import ConfigError

Clock = Callable[[], float]


_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _usage_rejected(rec: StreamRecord) -> bool:
    return rec.http_status == 400 and "stream_options" in (rec.error or "")


class _Base:
    """What the sync and async clients share: deployments, credentials, building requests."""

    def __init__(
        self,
        deployments: list[Deployment] | None = None,
        *,
        server_url: str | None = None,
        credentials: Credentials | None = None,
        clock: Clock = time.perf_counter,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.deployments = deployments if deployments is not None else load_deployments()
        self.server_url = server_url
        self.credentials = credentials or Credentials()
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._rng = random.Random()

    def deployment(self, dep: Deployment | str) -> Deployment:
        return dep if isinstance(dep, Deployment) else find_deployment(self.deployments, dep)

    def _server(self) -> str:
        if self.server_url is None:  # a built-in deployment and no URL given: find or start our server
            from streaming.server.launcher import ensure_server

            self.server_url = ensure_server().url
        return self.server_url

    def prepare(self, dep: Deployment, req: LLMRequest, include_usage: bool) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body. Raises ConfigError (e.g. a missing key) before anything is sent."""
        url = dep.url(req.api, self._server() if dep.builtin else None)
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if req.stream:
            headers["accept"] = "text/event-stream"
        headers.update(self.credentials.headers(dep))
        if dep.provider == "simulated" and dep.sim is not None:
            headers["x-sim-profile"] = orjson.dumps(dep.sim.to_dict()).decode()
        headers.update(req.headers)
        try:
            payload = orjson.dumps(req.body(dep, include_usage))
        except orjson.JSONEncodeError as e:  # e.g. a lone surrogate from undecodable command-line bytes
            raise ConfigError(f"request: the prompt is not valid Unicode text and cannot be sent ({e})") from None
        return url, headers, payload

    def new_record(self, dep: Deployment, req: LLMRequest) -> StreamRecord:
        return StreamRecord(
            deployment=dep.name,
            provider=dep.provider,
            model=dep.model or dep.deployment or dep.name,
            api=req.api,
            stream=req.stream,
            temperature=req.temperature,
            max_tokens=req.max_tokens,
            usage_requested=req.stream and req.include_usage,
            resume_of=req.resume_of,
            started_at=utc_now(),
        )


def _classify(exc: BaseException, got_headers: bool) -> tuple[str, str, str]:
    """(status, error_type, plain sentence) for a transport exception."""
    if isinstance(exc, httpx2.ReadTimeout):
        if got_headers:
            return "stalled", "stall_timeout", "the stream went silent for longer than the stall timeout"
        return "error", "header_timeout", "the server did not answer before the timeout"
    if isinstance(exc, httpx2.ConnectTimeout):
        return "error", "connect_timeout", "could not connect to the server in time"
    if isinstance(exc, httpx2.ConnectError):
        return "error", "connect_error", "could not connect to the server (is it running, and is the URL right?)"
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        if got_headers:
            return "interrupted", "connection_dropped", "the connection dropped mid-stream"
        return "error", "connection_reset", "the connection was closed before any response"
    return "error", type(exc).__name__, f"the request failed: {exc}"


class _SendMark:
    """httpcore trace hook: stamps t0 the instant the request headers start going to the connection."""

    __slots__ = ("clock", "t0")

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.t0: float | None = None

    def sync(self, name: str, info: Any) -> None:
        if self.t0 is None and name.endswith("send_request_headers.started"):
            self.t0 = self.clock()

    async def aio(self, name: str, info: Any) -> None:
        if self.t0 is None and name.endswith("send_request_headers.started"):
            self.t0 = self.clock()


_RETRYABLE_EXC = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.ReadTimeout, httpx2.RemoteProtocolError, httpx2.ReadError)


class _StreamBase:
    """What the sync and async streams share: the record, and what to do after a failed attempt."""

    def __init__(self, client: _Base, dep: Deployment, req: LLMRequest) -> None:
        self._client = client
        self.deployment = dep
        self.request = req
        self.record = client.new_record(dep, req)
        self._prepared = client.prepare(dep, req, req.include_usage)  # raises before any request
        self._include_usage = req.include_usage
        self._builder: RecordBuilder | None = None
        self._response: Any = None
        self._finished = False
        self._gen: Any = None
        self._t0: float | None = None
        self._attempt = 0

    def _finish(self, **kw: Any) -> None:
        if self._finished:
            return
        self._finished = True
        clock = self._client.clock
        if self._builder is None:  # never got a response
            self._builder = RecordBuilder(self.record, self._t0 if self._t0 is not None else clock())
        self._builder.finish(clock(), **kw)

    def _new_attempt(self) -> None:
        self._builder = None
        self._t0 = None

    def _sent(self, t_call: float, t0: float | None) -> float:
        """Record when the request went onto the wire (else when send was called), and the wait before it."""
        self._t0 = t0 if t0 is not None else t_call
        self.record.connect_s = self._t0 - t_call
        return self._t0

    def _begin(self, t0: float, t_headers: float, resp: Any) -> RecordBuilder:
        self._builder = b = RecordBuilder(self.record, t0)
        b.on_headers(t_headers, resp.status_code, resp.headers)
        return b

    def _after_error_status(self, status: int, headers: Mapping[str, str], body: bytes, t: float) -> float | None:
        """An error response was read: seconds to wait before the next attempt, or None when the record is final."""
        rec, c, policy = self.record, self._client, self._client.retry
        assert self._builder is not None
        self._builder.on_error_body(t, status, body)
        if self._include_usage and _usage_rejected(rec):  # old Azure api-versions reject stream_options
            self._include_usage = False
            self._prepared = c.prepare(self.deployment, self.request, False)
            rec.usage_requested = False
            rec.status, rec.error, rec.error_type = "ok", None, None
            return 0.0
        if status in RETRY_STATUS and self._attempt < policy.max_retries and headers.get("x-should-retry") != "false":
            wait = policy.wait(self._attempt, headers, c._rng)
            self._note_retry(wait)
            rec.status, rec.error, rec.error_type = "ok", None, None
            return wait
        self._finished = True
        return None

    def _after_exception(self, exc: httpx2.HTTPError, got_headers: bool) -> float | None:
        """A transport error: seconds to wait before retrying (only before any response), or None when final."""
        rec, c, policy = self.record, self._client, self._client.retry
        if self._builder is None:
            self._builder = RecordBuilder(rec, self._t0 if self._t0 is not None else c.clock())
        status, etype, msg = _classify(exc, got_headers)
        if isinstance(exc, _RETRYABLE_EXC) and not got_headers and self._attempt < policy.max_retries:
            wait = policy.wait(self._attempt, None, c._rng)
            rec.error, rec.error_type = msg, etype
            self._note_retry(wait)
            rec.error, rec.error_type = None, None
            return wait
        self._finish(status=status, error=msg, error_type=etype)
        return None

    def _note_retry(self, wait: float) -> None:
        rec = self.record
        rec.attempts.append({"attempt": self._attempt, "http_status": rec.http_status, "error_type": rec.error_type, "error": rec.error,
                             "request_id": rec.request_id, "wait_s": wait})  # fmt: skip
        rec.retries += 1
        rec.retry_wait_s += wait
        rec.http_status = None
        self._attempt += 1


class Stream(_StreamBase):
    """A streaming (or non-streaming) request in flight. Iterate for text deltas; ``.record`` at the end.

    Use as a context manager, or call ``close()``: leaving early closes the HTTP
    connection, and the record says ``cancelled``.
    """

    _client: Client

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
        if not self._finished:
            self._finish(status="cancelled", error="stopped by the user before the answer finished", error_type="cancelled")
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

    def _send(self) -> tuple[httpx2.Response, float, float, Iterator[tuple[float, bytes]]]:
        """(response, t0, t_headers, stamped body) over httpx2; t0 comes from its trace hook."""
        c = self._client
        clock = c.clock
        url, headers, body = self._prepared
        mark = _SendMark(clock)
        request = c.http.build_request("POST", url, headers=headers, content=body, extensions={"trace": mark.sync})
        t_call = clock()
        try:
            resp = c.http.send(request, stream=True)
        finally:
            t0 = self._sent(t_call, mark.t0)
        t_headers = clock()

        def stamped() -> Iterator[tuple[float, bytes]]:
            for data in resp.iter_raw():
                yield clock(), data

        return resp, t0, t_headers, stamped()

    def _run(self) -> Iterator[str]:
        clock = self._client.clock
        try:
            while True:
                self._new_attempt()
                got_headers = False
                try:
                    resp, t0, t_headers, chunks = self._send()
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


class Client(_Base):
    """Synchronous client: ``with client.stream("sim-fast", LLMRequest.chat("hi")) as s: for d in s: ...``."""

    def __init__(self, *args: Any, max_connections: int = 16, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.http = httpx2.Client(timeout=self.timeouts.httpx(), limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

    def stream(self, dep: Deployment | str, req: LLMRequest) -> Stream:
        return Stream(self, self.deployment(dep), req)

    def run(self, dep: Deployment | str, req: LLMRequest) -> StreamRecord:
        with self.stream(dep, req) as s:
            return s.run()

    def resume(self, dep: Deployment | str, req: LLMRequest, previous: StreamRecord, partial: str | None = None) -> Stream:
        """A stream that continues ``previous`` (see ``resume_request``); its record has ``resume_of`` set."""
        return self.stream(dep, resume_request(req, previous, partial))

    def run_resuming(self, dep: Deployment | str, req: LLMRequest, max_resumes: int = 1) -> list[StreamRecord]:
        """Run ``req``; while an attempt breaks off mid-answer, resume it (at most ``max_resumes`` times). Every attempt is returned."""
        recs = [self.run(dep, req)]
        while can_resume(recs[-1]) and len(recs) <= max_resumes:
            with self.resume(dep, req, recs[-1], "".join(r.text for r in recs)) as s:
                recs.append(s.run())
        return recs

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncStream(_StreamBase):
    """The asyncio twin of ``Stream``: ``async for delta in s``, then ``s.record``."""

    _client: AsyncClient

    async def __aenter__(self) -> AsyncStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncIterator[str]:
        if self._gen is None:
            self._gen = self._run()
        return self._gen

    async def aclose(self) -> StreamRecord:
        if not self._finished:
            self._finish(status="cancelled", error="stopped before the answer finished", error_type="cancelled")
        if self._gen is not None:
            await self._gen.aclose()
        if self._response is not None:
            await self._response.aclose()
        return self.record

    async def run(self) -> StreamRecord:
        async for _ in self:
            pass
        return self.record

    async def _send(self) -> tuple[Any, float, float, AsyncIterator[tuple[float, bytes]]]:
        """(response, t0, t_headers, stamped body) through the client's transport (wire, or httpx2)."""
        c = self._client
        clock = c.clock
        url, headers, body = self._prepared
        t_call = clock()
        if c.wire is not None:
            box: list[float] = []
            try:
                resp = await c.wire.send(url, headers, body, box.append)
            finally:
                t0 = self._sent(t_call, box[0] if box else None)
            return resp, t0, resp.t_headers, resp.stamped()
        mark = _SendMark(clock)
        request = c.http.build_request("POST", url, headers=headers, content=body, extensions={"trace": mark.aio})
        try:
            resp = await c.http.send(request, stream=True)
        finally:
            t0 = self._sent(t_call, mark.t0)
        t_headers = clock()

        async def stamped() -> AsyncIterator[tuple[float, bytes]]:
            async for data in resp.aiter_raw():
                yield clock(), data

        return resp, t0, t_headers, stamped()

    async def _run(self) -> AsyncIterator[str]:
        import asyncio

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


class AsyncClient(_Base):
    """asyncio client; the connection pool is sized to ``max_connections`` (set it to the concurrency).

    ``transport="wire"`` (the default when no proxy is configured) uses ``streaming.wire``;
    ``"httpx"`` uses httpx2, which honours proxy settings.
    """

    def __init__(self, *args: Any, max_connections: int = 100, transport: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        if transport is None:
            transport = "httpx" if any(os.environ.get(v) for v in _PROXY_VARS) else "wire"
        if transport not in ("wire", "httpx"):
            raise ConfigError(f"transport must be 'wire' or 'httpx', got {transport!r}")
        self.transport = transport
        self.wire = WirePool(max_connections, self.timeouts.connect_s, self.timeouts.stall_s, self.clock) if transport == "wire" else None
        self.http = httpx2.AsyncClient(timeout=self.timeouts.httpx(), limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

    def stream(self, dep: Deployment | str, req: LLMRequest) -> AsyncStream:
        return AsyncStream(self, self.deployment(dep), req)

    async def run(self, dep: Deployment | str, req: LLMRequest) -> StreamRecord:
        async with self.stream(dep, req) as s:
            return await s.run()

    def resume(self, dep: Deployment | str, req: LLMRequest, previous: StreamRecord, partial: str | None = None) -> AsyncStream:
        """A stream that continues ``previous`` (see ``resume_request``); its record has ``resume_of`` set."""
        return self.stream(dep, resume_request(req, previous, partial))

    async def run_resuming(self, dep: Deployment | str, req: LLMRequest, max_resumes: int = 1) -> list[StreamRecord]:
        """Run ``req``; while an attempt breaks off mid-answer, resume it (at most ``max_resumes`` times). Every attempt is returned."""
        recs = [await self.run(dep, req)]
        while can_resume(recs[-1]) and len(recs) <= max_resumes:
            async with self.resume(dep, req, recs[-1], "".join(r.text for r in recs)) as s:
                recs.append(await s.run())
        return recs

    async def aclose(self) -> None:
        if self.wire is not None:
            await self.wire.aclose()
        await self.http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
