"""Streaming LLM Lab: measure how streamed LLM answers feel (TTFT, inter-token latency, tokens/s)."""

__version__ = "0.1.0"

from .client import AsyncClient, Client, LLMRequest, RetryPolicy, Timeouts  # noqa: E402
from .collector import StreamCollector  # noqa: E402
from .config import BUILTINS, Credentials, Deployment, SimProfile, load_deployments  # noqa: E402
from .errors import ConfigError, EndpointError, StreamingError  # noqa: E402
from .record import StreamRecord  # noqa: E402

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
