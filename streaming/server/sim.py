"""Simulated token source: a declared latency profile played out on the event loop."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator

from streaming.core.config import SimProfile

_WORDS = (
    "Streaming sends each token as soon as the model produces it, so the reader sees the first words "
    "after a few hundred milliseconds instead of waiting for the whole answer. Cloud computing delivers "
    "computing services over the internet: servers, storage, databases, networking and software, paid "
    "for as they are used. Latency has parts: the time to the first token, the gaps between tokens, and "
    "the time to the last one. A benchmark that reports only the mean hides the tail that users feel."
).split()


class SimSource:
    """Yields tokens on the profile's schedule; the schedule is absolute so lag does not accumulate."""

    def __init__(self, profile: SimProfile, max_tokens: int | None, seed: int | None, clock=time.perf_counter) -> None:
        self.profile = profile
        limit = profile.output_tokens
        self.finish_reason = "stop"
        if max_tokens is not None and max_tokens < limit:
            limit, self.finish_reason = max_tokens, "length"
        self.limit = limit
        self.rng = random.Random(seed)
        self.clock = clock
        self.generated = 0
        self.cancelled = False

    def _factor(self) -> float:
        j = self.profile.jitter
        return math.exp(j * self.rng.gauss(0.0, 1.0) - j * j / 2) if j > 0 else 1.0

    async def tokens(self, start: float) -> AsyncIterator[str]:
        p = self.profile
        target = start + p.ttft_ms / 1000.0 * self._factor()
        gap = 1.0 / p.tokens_per_s
        offset = self.rng.randrange(len(_WORDS))
        for i in range(self.limit):
            delay = target - self.clock()
            while delay > 0:  # event-loop timers may fire a little early; never emit before the schedule
                await asyncio.sleep(delay)
                delay = target - self.clock()
            if self.cancelled:
                return
            self.generated += 1
            word = _WORDS[(offset + i) % len(_WORDS)]
            yield word if i == 0 else " " + word
            target += gap * self._factor()

    def cancel(self) -> None:
        self.cancelled = True
