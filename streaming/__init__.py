"""Streaming LLM Lab: measure how streamed LLM answers feel (TTFT, inter-token latency, tokens/s)."""

__version__ = "0.1.0"

from streaming.core.auth import Credentials
from streaming.core.client import AsyncClient, Client  # noqa: E402
from streaming.core.collector import StreamCollector  # noqa: E402
from streaming.core.config import (  # noqa: E402
    BUILTINS,
    Deployment,
    SimProfile,
    load_deployments,
)
from streaming.core.record import StreamRecord  # noqa: E402
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.errors import ConfigError, EndpointError, StreamingError  # noqa: E402

__all__ = [
    "AsyncClient",
    "BUILTINS",
    "Client",
    "ConfigError",
    "Credentials",
    "Deployment",
    "EndpointError",
    "LLMRequest",
    "RetryPolicy",
    "SimProfile",
    "StreamCollector",
    "StreamRecord",
    "StreamingError",
    "Timeouts",
    "load_deployments",
    "__version__",
]
