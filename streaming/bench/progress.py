"""What a running benchmark reports: per-cell counters, one point per finished request, and snapshots for progress bars."""

from __future__ import annotations

from dataclasses import dataclass, field

from streaming.core.record import schedule_lag


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
