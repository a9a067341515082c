"""How streamed text is painted: batched per frame (``Batcher``) or at a steady rate (``Smoother``). Never changes a measurement.
"""

from __future__ import annotations

import math


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
