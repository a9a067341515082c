"""Replay token source: a recorded answer played at its recorded chunk timings.

Chunk ``i`` is written ``times_s[i]`` after the request arrived (the schedule is absolute, so a
late timer does not push the rest back), which makes the replayed TTFT and every gap what
the recording measured, plus the loopback's fraction of a millisecond. A recorded reasoning
phase is one reasoning event at its recorded time. ``max_tokens`` below the recorded length
cuts the answer (``finish_reason: "length"``), in proportion to the recorded tokens per piece.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import orjson

from streaming.core.config import Deployment
from streaming.core.replay import RecordedAnswer, Recording, replay_from_header
from streaming.errors import ConfigError

FRESH_S = 5.0  # a recording is read again (in a thread: is there a newer recorded run?) at most this often


class Replays:
    """The replays a server plays: those of its deployments file, and any a request names in its ``x-replay`` header.
    A recording is read in a thread (``loader``, e.g. ``store.recordings.RecordingLibrary.get``), then served from memory
    on the event loop: a thread hop per request would delay the other requests' reads."""

    def __init__(self, deployments: list[Deployment], loader: Callable[[Deployment], Recording] | None, clock: Callable[[], float]) -> None:
        self.known = {d.name: d for d in deployments if d.provider == "replay"}
        self.loader = loader
        self.clock = clock
        self._cache: dict[str, tuple[Recording, float]] = {}  # the x-replay header (or the model) → (recording, when read)
        self._refreshing: set[str] = set()  # keys read again in the background right now

    def serves(self, model: str, header: str | None) -> bool:
        return header is not None or model in self.known

    def preload(self) -> None:
        """Read the deployments file's recordings now, so that the first replayed request does not wait for the database."""
        if self.loader is not None:
            for name, dep in self.known.items():
                self._read_in_background(name, dep)

    async def recording(self, model: str, header: str | None) -> Recording:
        """The recording to play, or a ConfigError that says why there is none. Only a first read waits: a recording read
        before is served at once and read again in the background (is there a newer recorded run?), because the request's
        clock is already running and a database read on a loaded machine takes a fifth of a second."""
        if self.loader is None:
            raise ConfigError("this server was started without a results database to replay from")
        key = header or model
        hit = self._cache.get(key)
        if hit is None:
            rec = await asyncio.to_thread(self.loader, self._deployment(model, header))
            self._cache[key] = (rec, self.clock())
            return rec
        if self.clock() - hit[1] >= FRESH_S and key not in self._refreshing:
            self._read_in_background(key, self._deployment(model, header))
        return hit[0]

    def _deployment(self, model: str, header: str | None) -> Deployment:
        try:
            return replay_from_header(orjson.loads(header)) if header else self.known[model]
        except orjson.JSONDecodeError as e:
            raise ConfigError(f"header 'x-replay' is not JSON: {e}") from None

    def _read_in_background(self, key: str, dep: Deployment) -> None:
        """Read ``dep``'s recording in a thread into the cache under ``key``; a failed read keeps what the cache had."""
        assert self.loader is not None
        self._refreshing.add(key)
        task = asyncio.ensure_future(asyncio.to_thread(self.loader, dep))

        def done(t: asyncio.Future[Recording]) -> None:
            self._refreshing.discard(key)
            if not t.cancelled() and t.exception() is None:
                self._cache[key] = (t.result(), self.clock())

        task.add_done_callback(done)


class ReplaySource:
    """Yields a recorded answer's pieces on its recorded schedule."""

    def __init__(self, answer: RecordedAnswer, max_tokens: int | None, clock: Callable[[], float] = time.perf_counter) -> None:
        self.answer = answer
        self.clock = clock
        n = len(answer.pieces)
        tokens = answer.output_tokens or n
        self.limit = n
        self.finish_reason = answer.finish_reason or "stop"
        if max_tokens is not None and max_tokens < tokens:
            self.limit = max(0, min(n, int(max_tokens * n / tokens)))
            self.finish_reason = "length"
        self.tokens_at_end = tokens if self.limit == n else round(self.limit * tokens / max(n, 1))
        self.reasoning_limit = (answer.reasoning_tokens or 1) if answer.t_first_reasoning_s is not None else 0
        self.reasoning_generated = 0
        self.thinking_started_at: float | None = None
        self.thinking_ended_at: float | None = None
        self.generated = 0
        self.cancelled = False

    async def _at(self, target: float) -> None:
        delay = target - self.clock()
        while delay > 0:  # timers may fire a little early: never write before the recorded time
            await asyncio.sleep(delay)
            delay = target - self.clock()

    async def events(self, start: float) -> AsyncIterator[tuple[str, str]]:
        """("reasoning", the recorded summary) once when the recording thought, then ("text", piece) per recorded chunk."""
        a = self.answer
        if a.t_first_reasoning_s is not None:
            await self._at(start + a.t_first_reasoning_s)
            if self.cancelled:
                return
            self.thinking_started_at = self.clock()
            self.reasoning_generated = self.reasoning_limit
            yield "reasoning", a.reasoning_text or "Thinking."
        for i in range(self.limit):
            await self._at(start + a.times_s[i])
            if self.cancelled:
                return
            if i == 0 and self.thinking_started_at is not None:
                self.thinking_ended_at = self.clock()
            self.generated += 1
            yield "text", a.pieces[i]
        if not self.cancelled:
            self.generated = self.tokens_at_end  # the usage reports the recorded token count

    async def tokens(self, start: float) -> AsyncIterator[str]:
        async for kind, piece in self.events(start):
            if kind == "text":
                yield piece

    def cancel(self) -> None:
        self.cancelled = True
