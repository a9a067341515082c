"""What a running benchmark reports: per-cell counters, one point per finished request, and snapshots for progress bars."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from streaming.core.record import FAILED_STATUSES, schedule_lag


@dataclass
class CellProgress:
    """Live counters of one (deployment, temperature, mode)."""

    done: int = 0
    errors: int = 0
    p50_wait_s: float | None = None  # p50 TTFT when streaming, p50 e2e otherwise


@dataclass(frozen=True)
class BenchPoint:
    """One finished request as the live view plots it: when it finished, its cell and its perceived wait."""

    seq: int
    t_s: float  # finished, seconds from the start of the measured phase
    sent_s: float | None
    scheduled_s: float | None  # rate mode: the intended (Poisson) send time
    cell: str
    deployment: str
    mode: str
    status: str
    perceived_wait_s: float | None  # None when the request failed

    @property
    def schedule_lag_s(self) -> float | None:
        return schedule_lag(self.sent_s, self.scheduled_s)


@dataclass
class Progress:
    """A snapshot for progress bars. ``points`` grows as requests finish (shared, append-only)."""

    run_id: str
    phase: str  # warmup | running | finished | stopped | failed
    done: int
    total: int
    errors: int
    elapsed_s: float
    cells: dict[str, CellProgress]
    points: list[BenchPoint]
    warnings: list[str] = field(default_factory=list)


class Tally:
    """The live counters of a run, request by request: per cell, in total, and one point each.

    Used by the runner in its process and by the scale-out driver on the records its workers send back,
    so both report the same figures.
    """

    def __init__(self, total: int) -> None:
        self.total, self.done, self.errors = total, 0, 0
        self.cells: dict[str, CellProgress] = {}
        self.waits: dict[str, list[float]] = {}
        self.points: list[BenchPoint] = []

    def add(self, point: BenchPoint) -> None:
        """One finished request (``point.perceived_wait_s`` is None unless it ended ok)."""
        c = self.cells.setdefault(point.cell, CellProgress())
        c.done += 1
        self.done += 1
        if point.perceived_wait_s is not None:
            self.waits.setdefault(point.cell, []).append(point.perceived_wait_s)
        if point.status in FAILED_STATUSES:  # as the Metrics page counts: a request stopped by the user is no error, one cut mid-answer is
            c.errors += 1
            self.errors += 1
        self.points.append(point)

    def snapshot(self, run_id: str, phase: str, elapsed_s: float, warnings: list[str]) -> Progress:
        for label, c in self.cells.items():
            w = self.waits.get(label)
            c.p50_wait_s = float(np.median(w)) if w else None
        cells = {k: CellProgress(v.done, v.errors, v.p50_wait_s) for k, v in self.cells.items()}
        return Progress(run_id, phase, self.done, self.total, self.errors, elapsed_s, cells, self.points, list(warnings))
