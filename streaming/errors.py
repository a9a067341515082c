"""Exceptions raised at the boundary, before any request starts.

Once a request is under way, failures become data: a ``StreamRecord`` with
``status`` and ``error`` set, never an exception.

    StreamingError
    ├── ConfigError        a deployments / bench file, a field or a key is wrong
    └── EndpointError      a server could not be reached or refused to start
"""

from __future__ import annotations


class StreamingError(Exception):
    """Base of every error this package raises on purpose."""


class ConfigError(StreamingError):
    """A configuration problem, named precisely enough to fix it."""


class EndpointError(StreamingError):
    """An endpoint answered in a way we cannot use, before any record exists."""

    def __init__(self, message: str, status_code: int | None = None, request_id: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.request_id = request_id


def describe_exit(returncode: int | None) -> str:
    """How a child process ended, in words: ``SIGSEGV`` for signal 11, ``exit code 1`` for a plain exit."""
    import signal

    if returncode is None:
        return "still running"
    if returncode < 0:
        try:
            return signal.Signals(-returncode).name
        except ValueError:
            return f"signal {-returncode}"
    return f"exit code {returncode}"
