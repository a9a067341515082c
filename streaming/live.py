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
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from .client import Client, LLMRequest, Stream
from .config import Deployment
from .record import StreamRecord

Clock = Callable[[], float]
CANCELLED_MESSAGE = "stopped by the user before the answer finished"
# Errors our own socket shutdown causes in the reader thread; after a Stop they mean "cancelled".
_WAKE_ERRORS = ("connection_dropped", "connection_reset", "incomplete_stream", "stall_timeout", "ReadError")


@dataclass(frozen=True)
class LiveStats:
    """What the page shows while an answer is in flight (display figures, not the record's)."""

    elapsed_s: float
    ttft_s: float | None
    tokens: int
    tokens_per_s: float | None
    done: bool

    def line(self) -> str:
        if self.ttft_s is None:
            return f"⏳ waiting for first token… {self.elapsed_s:.1f} s"
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
            self.stream.close()  # cancelled if it did not end by itself
            rec = self.stream.record
            if self._cancel.is_set() and rec.status != "ok" and rec.error_type in _WAKE_ERRORS:
                rec.status, rec.error, rec.error_type = "cancelled", CANCELLED_MESSAGE, "cancelled"
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
        return LiveStats(elapsed_s=now - start, ttft_s=ttft, tokens=len(arr), tokens_per_s=rate, done=done)

    def cancel(self) -> None:
        """Stop now: the reader thread ends, the connection closes, the server stops generating."""
        if self._cancel.is_set():
            return
        self._cancel.set()
        resp = self.stream._response
        ns = resp.extensions.get("network_stream") if resp is not None else None
        sock = ns.get_extra_info("socket") if ns is not None else None
        if isinstance(sock, socket.socket):
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes a recv() blocked in another thread
            except OSError:
                pass  # already closed

    def join(self, timeout: float | None = None) -> StreamRecord:
        self._thread.join(timeout)
        return self.record

    def __enter__(self) -> ThreadedReader:
        return self.start() if self.started_at is None else self

    def __exit__(self, *exc: object) -> None:
        if not self._finished:
            self.cancel()
        self.join(5.0)


class Batcher:
    """Default pacing: everything received since the last paint, in one repaint."""

    def __init__(self) -> None:
        self._buf: list[str] = []

    def push(self, text: str) -> None:
        self._buf.append(text)

    @property
    def pending(self) -> bool:
        return bool(self._buf)

    def take(self, frame_s: float) -> str:
        out, self._buf = "".join(self._buf), []
        return out

    def flush(self) -> str:
        return self.take(0.0)


class Smoother(Batcher):
    """Steady reveal: each frame paints a share of the backlog so it drains in about ``lag_s``."""

    def __init__(self, lag_s: float = 0.25, min_chars: int = 2) -> None:
        super().__init__()
        self.lag_s = lag_s
        self.min_chars = min_chars
        self._backlog = ""

    def push(self, text: str) -> None:
        self._backlog += text

    @property
    def pending(self) -> bool:
        return bool(self._backlog)

    def take(self, frame_s: float) -> str:
        n = max(self.min_chars, math.ceil(len(self._backlog) * min(1.0, frame_s / self.lag_s)))
        out, self._backlog = self._backlog[:n], self._backlog[n:]
        return out

    def flush(self) -> str:
        out, self._backlog = self._backlog, ""
        return out


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


@dataclass(frozen=True)
class RaceResult:
    """The two perceived waits of one race: first token (streaming) vs whole answer (non-streaming)."""

    stream_wait_s: float | None
    plain_wait_s: float | None
    stream_e2e_s: float | None

    @property
    def ratio(self) -> float | None:
        """How many times longer the non-streaming user waited before reading anything."""
        if not self.stream_wait_s or self.plain_wait_s is None:
            return None
        return self.plain_wait_s / self.stream_wait_s

    @classmethod
    def of(cls, streamed: StreamRecord, plain: StreamRecord) -> RaceResult:
        return cls(
            stream_wait_s=streamed.ttft_s if streamed.ok else None,
            plain_wait_s=plain.e2e_s if plain.ok else None,
            stream_e2e_s=streamed.e2e_s if streamed.ok else None,
        )


class Race:
    """The same request sent streaming and non-streaming to one deployment, both started together."""

    def __init__(self, client: Client, dep: Deployment | str, req: LLMRequest) -> None:
        self.streamed = ThreadedReader(client.stream(dep, replace(req, stream=True)), client.clock)
        self.plain = ThreadedReader(client.stream(dep, replace(req, stream=False)), client.clock)

    def start(self) -> Race:
        self.plain.start()
        self.streamed.start()
        return self

    def cancel(self) -> None:
        self.streamed.cancel()
        self.plain.cancel()

    def join(self, timeout: float | None = None) -> RaceResult:
        return RaceResult.of(self.streamed.join(timeout), self.plain.join(timeout))

    def __enter__(self) -> Race:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cancel()
        self.join(5.0)


# -- plain-language formatting --------------------------------------------------


def _ms(v: float | None) -> str:
    if v is None:
        return "n/a"
    return f"{v * 1000:.0f} ms" if v < 10 else f"{v:.1f} s"


def status_word(status: str) -> str:
    """The word the page shows for a record's status."""
    return {"ok": "done", "cancelled": "stopped", "interrupted": "interrupted", "stalled": "stalled", "filtered": "filtered"}.get(status, "failed")


def failure_sentence(rec: StreamRecord) -> str | None:
    """One plain sentence for a failed or stopped turn, with the request id for support; None when it went fine."""
    if rec.ok:
        return None
    if rec.status == "cancelled":
        return "Stopped: the partial answer is kept."
    what = (rec.error or "the request failed").rstrip(".")
    what = what[0].upper() + what[1:]
    kept = " The partial answer is kept." if rec.text and "partial" not in what else ""
    rid = rec.request_id or rec.response_id
    return f"{what}.{kept}" + (f" Request id: {rid}." if rid else "")


def metrics_line(rec: StreamRecord, temperature: float | None = None) -> str:
    """The row under a finished answer: TTFT, tok/s, output tokens, e2e, finish_reason, deployment, temperature."""
    parts = [status_word(rec.status)]
    parts.append(f"TTFT {_ms(rec.ttft_s)}" if rec.stream else "TTFT n/a (non-streaming)")
    tps = rec.tokens_per_s
    parts.append(f"{tps:.1f} tok/s" if tps is not None else "tok/s n/a")
    parts.append(f"{rec.output_tokens if rec.output_tokens is not None else '?'} output tokens")
    parts.append(f"e2e {_ms(rec.e2e_s)}")
    parts.append(f"finish_reason {rec.finish_reason or 'none'}")
    parts.append(rec.deployment)
    t = rec.temperature if rec.temperature is not None else temperature
    parts.append(f"temperature {t:g}" if t is not None else "temperature default")
    if rec.retries:
        parts.append(f"{rec.retries} retries ({rec.retry_wait_s:.1f} s waited, not in TTFT)")
    return " · ".join(parts)


class SafeSecrets(Mapping[str, Any]):
    """Wraps ``st.secrets`` (or any mapping) so a missing or broken secrets file reads as empty."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getitem__(self, key: str) -> Any:
        try:
            return self._inner[key]
        except KeyError:
            raise
        except Exception:  # no secrets file: Streamlit raises on any access
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        try:
            return iter(list(self._inner))
        except Exception:
            return iter(())

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return "SafeSecrets(<hidden>)"
