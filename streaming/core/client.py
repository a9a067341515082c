"""The clients: deployments and credentials in, a ``Stream`` per request out.

The same path serves every deployment (Azure, OpenAI, compatible servers, and
our own server for ``local`` and ``sim-*``): a transport that stamps raw bytes with
the clock as each read returns (``core.transport``), and ``RecordBuilder`` for
parsing and timing (``core.protocol``); the attempt and retry logic is in
``core.stream``. ``Client`` is synchronous (CLI, app); ``AsyncClient`` is the same
over asyncio (benchmark runner).

After tokens have arrived nothing is retried silently: a drop is ``interrupted``
with its partial text, and the opt-in ``resume`` strategy (``resume_request``,
``Client.resume``, ``run_resuming``) re-asks with the partial answer as a new,
linked record (``resume_of``).
"""

from __future__ import annotations

import os
from typing import Any

import httpx2

from streaming.core.client_base import Clock, ClientBase
from streaming.core.config import Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest, can_resume, resume_request
from streaming.core.stream import AsyncStream, Stream
from streaming.core.transport.tls import trusted_context
from streaming.core.transport.wire import WirePool
from streaming.errors import ConfigError

__all__ = ["AsyncClient", "AsyncStream", "Client", "ClientBase", "Clock", "Stream"]

_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


class Client(ClientBase):
    """Synchronous client: ``with client.stream("sim-fast", LLMRequest.chat("hi")) as s: for d in s: ...``."""

    def __init__(self, *args: Any, max_connections: int = 16, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.http = httpx2.Client(timeout=self.timeouts.httpx(), verify=trusted_context(), limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

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


class AsyncClient(ClientBase):
    """asyncio client; the connection pool is sized to ``max_connections`` (set it to the concurrency).

    ``transport="wire"`` uses ``streaming.wire`` for every URL (HTTP and HTTPS, with the CAs httpx2 trusts);
    ``"httpx"`` uses httpx2. The default, ``"auto"``: httpx2 whenever a proxy is configured (``HTTPS_PROXY`` …),
    wire otherwise: wire keeps its stamps exact at high concurrency, where httpx2's scheduling lands in TTFT.
    Each record says which one measured it (``transport``, ``transport_version``).
    """

    def __init__(self, *args: Any, max_connections: int = 100, transport: str | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        transport = transport or "auto"
        if transport == "auto" and any(os.environ.get(v) for v in _PROXY_VARS):
            transport = "httpx"
        if transport not in ("wire", "httpx", "auto"):
            raise ConfigError(f"transport must be 'wire', 'httpx' or 'auto', got {transport!r}")
        self.transport = transport
        self.wire = WirePool(max_connections, self.timeouts.connect_s, self.timeouts.stall_s, self.clock) if transport != "httpx" else None
        self.http = httpx2.AsyncClient(timeout=self.timeouts.httpx(), verify=trusted_context(), limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

    def transport_for(self, url: str) -> str:
        """``wire`` or ``httpx`` for this URL (see the class docstring; a proxy has already made it ``httpx``)."""
        return "wire" if self.transport == "auto" else self.transport

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
