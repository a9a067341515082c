"""What the sync and async clients share: deployments, credentials, and building one attempt's request and record.

Below ``core.client`` and ``core.stream``: the stream reads its client through this, the clients build on it.
"""

from __future__ import annotations

import os
import random
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson

from streaming.core.auth import Credentials
from streaming.core.config import Deployment, find_deployment, load_deployments
from streaming.core.record import StreamRecord, utc_now
from streaming.core.replay import replay_header
from streaming.core.request import ADAPTED, LLMRequest, RetryPolicy, Timeouts
from streaming.errors import ConfigError

Clock = Callable[[], float]


_HOST = socket.gethostname()


class ClientBase:
    """What the sync and async clients share: deployments, credentials, building requests."""

    http: Any  # httpx2.Client or httpx2.AsyncClient: set by the sync or the async client
    wire: Any  # the async client's WirePool (or None); the sync client has none

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
