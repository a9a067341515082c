"""Saturation watched while a run goes: ``analysis.saturation.detect_saturation`` over the finished requests so far."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from streaming.analysis.saturation import Saturation, detect_saturation
from streaming.bench.progress import BenchPoint


class SaturationWatch:
    """Checks at geometrically spaced counts (cheap on long runs); reports a flagged run once."""

    def __init__(self) -> None:
        self.flagged: Saturation | None = None
        self._next = 0

    def check(self, points: Sequence[BenchPoint], final: bool = False) -> Saturation | None:
        """The saturation the first time the run is flagged, else None."""
        n = len(points)
        if self.flagged is not None or (not final and n < self._next):
            return None
        self._next = max(n + 10, int(n * 1.1))
        nan = float("nan")
        s = detect_saturation([nan if p.sent_s is None else p.sent_s for p in points],
                              [nan if p.perceived_wait_s is None else p.perceived_wait_s for p in points], [p.t_s for p in points])  # fmt: skip
        if s.flagged:
            self.flagged = s
            return s
        return None

    def update(self, points: Sequence[BenchPoint], warnings: list[str], stop: threading.Event | None, final: bool = False) -> None:
        """Check; when first flagged, add the sentence to ``warnings`` and (given ``stop``, before the end) stop sending."""
        if (s := self.check(points, final)) is not None:
            warnings.append(s.sentence)
            if stop is not None and not final:
                warnings.append(f"stopped on saturation after {s.n} requests (--stop-on-saturation)")
                stop.set()
