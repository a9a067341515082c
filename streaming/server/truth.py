"""The server's own record of each response: when the request was in, when each chunk went out.

Times are ``time.perf_counter()`` readings. On Linux that is CLOCK_MONOTONIC, shared
by every process on the machine, so a client on the same host can compare its
own stamps with these directly.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Truth:
    """Server-side timeline of one response."""

    response_id: str
    model: str
    received_at: float
    stream: bool
    chunk_times: list[float] = field(default_factory=list)  # content chunks, when written
    chunk_texts: list[str] = field(default_factory=list)
    first_event_at: float | None = None
    finished_at: float | None = None
    tokens_generated: int = 0
    cancelled_at: float | None = None
    tokens_after_cancel: int = 0
    generation_stopped_at: float | None = None
    fault: str | None = None
    reasoning_times: list[float] = field(default_factory=list)  # reasoning deltas (summary, reasoning_content), when written
    reasoning_tokens: int | None = None  # a reasoning model's thinking phase: how many tokens
    thinking_started_at: float | None = None  # its first reasoning token
    thinking_ended_at: float | None = None  # its last reasoning token
    replayed: int | None = None  # a replay: the recorded request (row id in the results database) it played
    prompt_digest: str | None = None  # sha256 of the request's [[role, content], …] (or its prompt): tests check what was sent
    queued_s: float | None = None  # a simulated deployment: seconds it waited for a capacity slot (None: not one that queues)

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["ttft"] = (self.chunk_times[0] - self.received_at) if self.chunk_times else None
        d["t_first_reasoning"] = (self.reasoning_times[0] - self.received_at) if self.reasoning_times else None
        d["thinking"] = (self.thinking_ended_at - self.thinking_started_at) if self.thinking_started_at is not None and self.thinking_ended_at is not None else None
        return d


def prompt_digest(body: Any) -> str:
    """sha256 of a request's messages as ``[[role, content], …]`` (chat) or of its prompt (completions), in hex."""
    import hashlib

    import orjson

    msgs = getattr(body, "messages", None)
    data = [[m.role, m.content] for m in msgs] if msgs is not None else getattr(body, "prompt", None)
    return hashlib.sha256(orjson.dumps(data, default=str)).hexdigest()


class TruthStore:
    """Bounded, thread-safe map of response id → Truth (oldest dropped first)."""

    # Each entry keeps every chunk's time and text (~8 KB for 100 chunks): 20,000 responses stay near 160 MB,
    # and cover the largest benchmark level (1,280 requests) many times over.
    def __init__(self, limit: int = 20_000) -> None:
        self._items: OrderedDict[str, Truth] = OrderedDict()
        self._lock = threading.Lock()
        self.limit = limit
        self.listeners: list[Callable[[Truth], None]] = []  # told of each new response (server.metrics)

    def add(self, truth: Truth) -> Truth:
        with self._lock:
            self._items[truth.response_id] = truth
            while len(self._items) > self.limit:
                self._items.popitem(last=False)
        for listen in self.listeners:
            listen(truth)
        return truth

    def get(self, response_id: str) -> Truth | None:
        with self._lock:
            return self._items.get(response_id)

    def by_model(self, model: str) -> list[Truth]:
        """Every kept response of ``model``, oldest first."""
        with self._lock:
            return [t for t in self._items.values() if t.model == model]

    def __len__(self) -> int:
        return len(self._items)
