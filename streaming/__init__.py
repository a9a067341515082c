"""Streaming LLM Lab: measure how streamed LLM answers feel (TTFT, inter-token latency, tokens/s).

The public API. The core (clients, records, deployments) is imported at once; the heavier
parts (the results database and pandas, the benchmark runner, the server launcher) load on
first use, so ``import streaming`` stays fast for the server's subprocesses.
"""

from __future__ import annotations

import importlib
from typing import Any

from streaming.core.auth import Credentials
from streaming.core.client import AsyncClient, Client
from streaming.core.collector import StreamCollector
from streaming.core.config import (
    BUILTINS,
    Deployment,
    Fault,
    SimProfile,
    find_deployment,
    load_deployments,
)
from streaming.core.record import Attempt, StreamRecord
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.core.sdk import TimedSDKStream, timed
from streaming.core.sdk_transport import instrument
from streaming.core.stream import AsyncStream, Stream
from streaming.errors import ConfigError, EndpointError, StreamingError
from streaming.version import __version__  # noqa: E402

_LAZY = {
    "Store": "streaming.store",
    "load_requests": "streaming.store",
    "list_runs": "streaming.store",
    "BenchConfig": "streaming.bench.matrix",
    "load_config": "streaming.bench.settings",
    "run_benchmark": "streaming.bench.runner",
    "ensure_server": "streaming.server.launcher",
}

__all__ = [
    "AsyncClient",
    "AsyncStream",
    "Attempt",
    "BUILTINS",
    "BenchConfig",
    "Client",
    "ConfigError",
    "Credentials",
    "Deployment",
    "EndpointError",
    "Fault",
    "LLMRequest",
    "RetryPolicy",
    "SimProfile",
    "Store",
    "Stream",
    "StreamCollector",
    "StreamRecord",
    "StreamingError",
    "TimedSDKStream",
    "Timeouts",
    "__version__",
    "ensure_server",
    "find_deployment",
    "instrument",
    "list_runs",
    "load_config",
    "load_deployments",
    "load_requests",
    "run_benchmark",
    "timed",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'streaming' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
