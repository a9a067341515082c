"""Simulated token source: a declared latency profile played out on the event loop."""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import AsyncIterator

from streaming.core.config import EFFORT_SCALE, SimProfile

_WORDS = (
    "Streaming sends each token as soon as the model produces it, so the reader sees the first words "
    "after a few hundred milliseconds instead of waiting for the whole answer. Cloud computing delivers "
    "computing services over the internet: servers, storage, databases, networking and software, paid "
    "for as they are used. Latency has parts: the time to the first token, the gaps between tokens, and "
    "the time to the last one. A benchmark that reports only the mean hides the tail that users feel."
).split()


_THOUGHTS = (
    "**Planning the answer** The user asks about latency. I should explain the first token, the gaps between "
    "tokens and the last token, and keep it short and concrete."
).split()


class SimSource:
    """Yields tokens on the profile's schedule; the schedule is absolute so lag does not accumulate."""

    def __init__(self, profile: SimProfile, max_tokens: int | None, seed: int | None, clock=time.perf_counter,
                 effort: str | None = None) -> None:  # fmt: skip
        self.profile = profile
        # a reasoning model thinks first; the budget (max_completion_tokens / max_output_tokens) includes its reasoning tokens
        reasoning = round(profile.reasoning_tokens * EFFORT_SCALE.get(effort or "medium", 1.0))
        limit = profile.output_tokens
        self.finish_reason = "stop"
        if max_tokens is not None and max_tokens <= reasoning:
            reasoning, limit, self.finish_reason = max_tokens, 0, "length"
        elif max_tokens is not None and max_tokens - reasoning < limit:
            limit, self.finish_reason = max_tokens - reasoning, "length"
        self.reasoning_limit = reasoning
        self.reasoning_generated = 0
        self.thinking_started_at: float | None = None  # when the first reasoning token was due (the server's truth)
        self.thinking_ended_at: float | None = None
        self.limit = limit
        self.rng = random.Random(seed)
        self.clock = clock
        self.generated = 0
        self.cancelled = False

    def _factor(self) -> float:
        j = self.profile.jitter
        return math.exp(j * self.rng.gauss(0.0, 1.0) - j * j / 2) if j > 0 else 1.0

    async def events(self, start: float) -> AsyncIterator[tuple[str, str]]:
        """("reasoning", summary word or "") per reasoning token, then ("text", piece) per visible token, on the schedule."""
        p = self.profile
        target = start + p.ttft_ms / 1000.0 * self._factor()
        gap = 1.0 / p.reasoning_tokens_per_s
        for i in range(self.reasoning_limit):
            delay = target - self.clock()
            while delay > 0:
                await asyncio.sleep(delay)
                delay = target - self.clock()
            if self.cancelled:
                return
            if self.thinking_started_at is None:
                self.thinking_started_at = self.clock()
            self.reasoning_generated += 1
            word = _THOUGHTS[i // 4] if i % 4 == 0 and i // 4 < len(_THOUGHTS) else ""  # a summary is shorter than the reasoning
            yield "reasoning", (word if i == 0 else " " + word) if word else ""
            target += gap * self._factor()
        if self.reasoning_limit:
            self.thinking_ended_at = self.clock()
        async for piece in self._visible(target):
            yield "text", piece

    async def tokens(self, start: float) -> AsyncIterator[str]:
        """The visible tokens only (the thinking phase, if any, passes in silence)."""
        async for kind, piece in self.events(start):
            if kind == "text":
                yield piece

    async def _visible(self, target: float) -> AsyncIterator[str]:
        gap = 1.0 / self.profile.tokens_per_s
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
