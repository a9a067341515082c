"""Shared fixtures: a scripted clock, and the built-in server on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from streaming.client import Client, RetryPolicy
from streaming.config import BUILTINS
from streaming.launcher import ServerHandle, free_port, start_server


class ScriptedClock:
    """A clock that returns the times it is given, in order; or a settable time."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """The real built-in server as a subprocess, shared by the session."""
    logs = tmp_path_factory.mktemp("server-logs")
    handle = start_server(port=free_port(), log_dir=str(logs))
    os.environ["STREAMING_SERVER_URL"] = handle.url  # CLI subprocesses and the app reuse it
    yield handle
    handle.stop()


@pytest.fixture
def client(server: ServerHandle) -> Iterator[Client]:
    with Client(list(BUILTINS), server_url=server.url, retry=RetryPolicy(max_retries=2, base_s=0.05)) as c:
        yield c
