"""What the live demo needs between the client and the page, without Streamlit.

- ``ThreadedReader`` reads a ``Stream`` on its own thread, so the page can wake up
  on a timer (a "tick") even while the server is silent, and a Stop is handled at once.
- ``frames()`` turns the reader into paint frames: text batched to one repaint per
  ``interval_s`` (each repaint re-sends the whole Markdown), or smoothed to a steady
  reveal; a tick with no text at least every ``tick_s``. Display only: the record's
  times are stamped by the client when bytes arrive, never here.
- ``Race`` runs the same request streaming and non-streaming at the same time.
- Plain-language formatting of a record for the page (metrics line, failure sentence).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from streaming.core.client import Stream
from streaming.core.record import StreamRecord
from streaming.demo.pacing import Batcher

Clock = Callable[[], float]


@dataclass(frozen=True)
class LiveStats:
    """What the page shows while an answer is in flight (display figures, not the record's)."""

    elapsed_s: float
    ttft_s: float | None
    tokens: int
    tokens_per_s: float | None
    done: bool
    thinking_s: float | None = None  # since the first reasoning event, while no visible token has come (else up to the first)
    reasoning: str = ""  # the reasoning summary streamed so far

    def line(self) -> str:
        if self.ttft_s is None and self.thinking_s is not None:
            return f"Thinking… {self.thinking_s:.1f} s"
        if self.ttft_s is None:
            return f"waiting for first token… {self.elapsed_s:.1f} s"
        rate = f" · {self.tokens_per_s:.0f} tok/s" if self.tokens_per_s else ""
        return f"elapsed {self.elapsed_s:.1f} s · TTFT {self.ttft_s * 1000:.0f} ms · {self.tokens} tokens so far{rate}"


class ThreadedReader:
    """Iterates a ``Stream`` on a daemon thread; the caller polls with ``take(timeout)``.

    ``cancel()`` is safe from any thread: it shuts the socket down so a read blocked
    in a long silence returns at once, and the record says ``cancelled``.
    """

    def __init__(self, stream: Stream, clock: Clock = time.perf_counter) -> None:
        self.stream = stream
        self.clock = clock
        self._cond = threading.Condition()
        self._deltas: list[str] = []
        self._arrivals: list[float] = []
        self._finished = False
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._pump, name="live-reader", daemon=True)
        self.started_at: float | None = None
        self.error: BaseException | None = None

    @property
    def record(self) -> StreamRecord:
        return self.stream.record

    def start(self) -> ThreadedReader:
        self.started_at = self.clock()
        self._thread.start()
        return self

    def _pump(self) -> None:
        try:
            for delta in self.stream:
                t = self.clock()
                with self._cond:
                    self._deltas.append(delta)
                    self._arrivals.append(t)
                    self._cond.notify_all()
                if self._cancel.is_set():
                    break
        except Exception as e:  # a bug, not a network failure (those are data on the record)
            self.error = e
        finally:
            self.stream.close()  # cancelled if it did not end by itself (the client decides the record)
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def take(self, timeout: float, early: bool = True) -> list[str]:
        """New deltas; waits up to ``timeout`` (returns on the first new delta when ``early``)."""
        deadline = self.clock() + timeout
        with self._cond:
            while not self._finished:
                left = deadline - self.clock()
                if left <= 0 or (early and self._deltas):
                    break
                self._cond.wait(left)
            out, self._deltas = self._deltas, []
        return out

    @property
    def finished(self) -> bool:
        """The stream has ended and every delta has been taken."""
        with self._cond:
            return self._finished and not self._deltas

    def stats(self) -> LiveStats:
        now = self.clock()
        start = self.started_at if self.started_at is not None else now
        with self._cond:
            arr = list(self._arrivals)
            done = self._finished
        ttft = arr[0] - start if arr else None
        rate = (len(arr) - 1) / (arr[-1] - arr[0]) if len(arr) > 1 and arr[-1] > arr[0] else None
        first_r, reasoning = self.stream.reasoning_so_far if hasattr(self.stream, "reasoning_so_far") else (None, "")
        thinking = None
        t0 = self.stream.record.t0_monotonic
        if first_r is not None and t0 is not None:
            thinking = max(0.0, (arr[0] if arr else now) - (t0 + first_r))
        return LiveStats(elapsed_s=now - start, ttft_s=ttft, tokens=len(arr), tokens_per_s=rate, done=done, thinking_s=thinking, reasoning=reasoning)

    def cancel(self) -> None:
        """Stop now: the reader thread ends, the connection closes, the server stops generating."""
        if self._cancel.is_set():
            return
        self._cancel.set()
        self.stream.cancel()

    def join(self, timeout: float | None = None) -> StreamRecord:
        self._thread.join(timeout)
        return self.record

    def __enter__(self) -> ThreadedReader:
        return self.start() if self.started_at is None else self

    def __exit__(self, *exc: object) -> None:
        if not self._finished:
            self.cancel()
        self.join(5.0)


@dataclass(frozen=True)
class Frame:
    """One paint: new text to append (empty on a tick), and the live figures."""

    text: str
    stats: LiveStats
    final: bool = False


def frames(reader: ThreadedReader, interval_s: float = 0.05, tick_s: float = 0.1, pacer: Batcher | None = None) -> Iterator[Frame]:
    """Paint frames from ``reader``: the first text at once, then at most one per ``interval_s``; a tick at least every ``tick_s``."""
    pacer = pacer if pacer is not None else Batcher()
    clock = reader.clock
    last_paint = -math.inf
    last_yield = clock()
    while True:
        now = clock()
        wait = max(0.0, last_paint + interval_s - now) if pacer.pending else max(0.0, last_yield + tick_s - now)
        for d in reader.take(wait, early=not pacer.pending):
            pacer.push(d)
        now = clock()
        if reader.finished:
            yield Frame(pacer.flush(), reader.stats(), final=True)
            return
        if pacer.pending and now - last_paint >= interval_s:
            text = pacer.take(interval_s if last_paint > -math.inf else 0.0)
            last_paint = last_yield = now
            yield Frame(text, reader.stats())
        elif now - last_yield >= tick_s:
            last_yield = now
            yield Frame("", reader.stats())
