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
import random
import socket
import time
from collections.abc import Callable
from typing import Any

import httpx2
import orjson

from streaming.core.auth import Credentials
from streaming.core.config import Deployment, find_deployment, load_deployments
from streaming.core.record import StreamRecord, utc_now
from streaming.core.replay import replay_header
from streaming.core.request import (
    ADAPTED,
    LLMRequest,
    RetryPolicy,
    Timeouts,
    can_resume,
    resume_request,
)
from streaming.core.stream import AsyncStream, Stream
from streaming.core.transport.wire import WirePool
from streaming.errors import ConfigError

Clock = Callable[[], float]


_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


_HOST = socket.gethostname()


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
        worker: str | None = None,
    ) -> None:
        self.deployments = deployments if deployments is not None else load_deployments()
        self.worker = worker  # a scale-out worker's id: stamped on every record with this host's name
        self.server_url = server_url
        self.credentials = credentials or Credentials()
        self.clock = clock
        self.timeouts = timeouts or Timeouts()
        self.retry = retry or RetryPolicy()
        self._rng = random.Random()

    def deployment(self, dep: Deployment | str) -> Deployment:
        return dep if isinstance(dep, Deployment) else find_deployment(self.deployments, dep)

    def _server(self, dep: Deployment) -> str:
        """Where the built-in deployments are served. The core never starts a server: the edges (CLI, app, bench
        job) find or start one and pass its URL; else ``STREAMING_SERVER_URL``."""
        url = self.server_url or os.environ.get("STREAMING_SERVER_URL")
        if not url:
            raise ConfigError(f"deployment '{dep.name}' is served by the built-in server, and no server URL was given: pass "
                              "server_url=streaming.ensure_server().url, or start one (python -m streaming serve) and set STREAMING_SERVER_URL")  # fmt: skip
        return url

    def prepare(self, dep: Deployment, req: LLMRequest, include_usage: bool) -> tuple[str, dict[str, str], bytes]:
        """URL, headers and body. Raises ConfigError (e.g. a missing key) before anything is sent."""
        req = req.resolved(dep)
        url = dep.url(req.api or "chat", self._server(dep) if dep.builtin else None)
        headers = {"content-type": "application/json", "accept-encoding": "identity"}
        if req.stream:
            headers["accept"] = "text/event-stream"
        headers.update(self.credentials.headers(dep))
        if dep.provider == "simulated" and dep.sim is not None:
            headers["x-sim-profile"] = orjson.dumps(dep.sim.to_dict()).decode()
        if dep.provider == "replay":  # the server plays it whether or not it was started with this deployments file
            headers["x-replay"] = orjson.dumps(replay_header(dep)).decode()
        headers.update(req.headers)
        try:
            payload = orjson.dumps(req.body(dep, include_usage, ADAPTED.get(dep.name, frozenset())))
        except orjson.JSONEncodeError as e:  # e.g. a lone surrogate from undecodable command-line bytes
            raise ConfigError(f"request: the prompt is not valid Unicode text and cannot be sent ({e})") from None
        return url, headers, payload

    def transport_for(self, url: str) -> str:
        """Which transport sends to ``url``: the synchronous client always uses httpx2."""
        return "httpx"

    def new_record(self, dep: Deployment, req: LLMRequest, include_usage: bool = True) -> StreamRecord:
        """A fresh record for one attempt of ``req``."""
        req = req.resolved(dep)
        adapted = ADAPTED.get(dep.name, frozenset())
        reasoning = dep.reasoning or req.reasoning_effort is not None
        return StreamRecord(
            deployment=dep.name,
            provider=dep.provider,
            model=dep.model or dep.deployment or dep.name,
            api=req.api or "chat",
            stream=req.stream,
            temperature=None if reasoning or "no_temperature" in adapted else req.temperature,  # what was sent
            max_tokens=req.max_tokens,
            usage_requested=req.stream and (req.api == "responses" or (req.include_usage and include_usage)),
            resume_of=req.resume_of,
            started_at=utc_now(),
            worker=self.worker,
            host=_HOST if self.worker is not None else None,
            reasoning_effort=req.reasoning_effort,
            adapted=sorted(adapted),
            replay_of=dep.replay_text if dep.provider == "replay" else None,
        )


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


class AsyncClient(_Base):
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
        self.http = httpx2.AsyncClient(timeout=self.timeouts.httpx(), limits=httpx2.Limits(max_connections=max_connections, max_keepalive_connections=max_connections))

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
