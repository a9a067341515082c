"""Simulated capacity: a simulated deployment serves ``capacity`` streams at once; the rest queue.

A queued request waits for a slot (its TTFT grows by the wait, as on a saturated PTU
deployment); after ``queue_timeout_s`` in the queue it is answered with a 429.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from streaming.core.config import SimProfile
from streaming.server.errors import error_response
from streaming.server.truth import Truth


class Slot:
    """One held slot; ``release`` is idempotent (the stream's end and a disconnect may both call it)."""

    def __init__(self, sem: asyncio.Semaphore | None, acquired_at: float | None, waited_s: float,
                 on_release: Callable[[], None] | None = None) -> None:  # fmt: skip
        self._sem: asyncio.Semaphore | None = sem
        self.acquired_at = acquired_at
        self.waited_s = waited_s
        self._on_release = on_release

    def release(self) -> None:
        if self._sem is not None:
            sem, self._sem = self._sem, None
            sem.release()
            if self._on_release is not None:
                self._on_release()


NO_SLOT = Slot(None, None, 0.0)  # a deployment without a capacity: nothing to release


def at_capacity(profile: SimProfile, rid: str, truth: Truth, clock: Callable[[], float]) -> Any:
    """The 429 a request gets after ``queue_timeout_s`` in the queue, with retry-after."""
    truth.finished_at = clock()
    wait = profile.queue_timeout_s
    return error_response(429, f"The simulated deployment is at capacity ({profile.capacity} streams); the request waited {wait:g} s "
                          "in the queue. Retry after the time given.", "rate_limit_error",
                          headers={"retry-after-ms": str(int(wait * 1000)), "retry-after": str(max(1, round(wait))), "x-request-id": rid})  # fmt: skip


class CapacityPool:
    """One semaphore per (model, profile): a header profile with its own capacity gets its own pool."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._sems: dict[tuple[str, int], asyncio.Semaphore] = {}
        self.queued: dict[str, int] = {}
        self.held: dict[str, int] = {}  # slots in use: the running requests (server.metrics)
        self.capacity: dict[str, int] = {}

    async def acquire(self, key: str, profile: SimProfile) -> Slot | None:
        """A slot once one is free, or None after ``profile.queue_timeout_s`` (the caller answers 429)."""
        sem = self._sems.setdefault((key, profile.capacity), asyncio.Semaphore(profile.capacity))
        t = self.clock()
        if not sem.locked():  # a free slot: taken at once, never counted as waiting (GET /metrics)
            await sem.acquire()
        else:
            self.queued[key] = self.queued.get(key, 0) + 1
            try:
                await asyncio.wait_for(sem.acquire(), profile.queue_timeout_s)
            except TimeoutError:
                return None
            finally:
                self.queued[key] -= 1
        now = self.clock()
        self.held[key] = self.held.get(key, 0) + 1
        self.capacity[key] = profile.capacity
        return Slot(sem, now, now - t, lambda: self._freed(key))

    def _freed(self, key: str) -> None:
        self.held[key] -= 1
