"""The live counters a running benchmark shows: errors counted as the Metrics page counts failures."""

from __future__ import annotations

from streaming.bench.progress import BenchPoint, Tally


def point(seq: int, status: str, wait: float | None) -> BenchPoint:
    return BenchPoint(seq, float(seq), None, None, "sim · 0.7 · stream", "sim", "stream", status, wait)


def test_a_request_stopped_by_the_user_is_not_an_error_and_a_cut_answer_is() -> None:
    t = Tally(total=5)
    for p in (point(0, "ok", 0.1), point(1, "ok", 0.3), point(2, "cancelled", None), point(3, "interrupted", None), point(4, "error", None)):
        t.add(p)
    snap = t.snapshot("run", "running", 1.0, [])
    assert (snap.done, snap.errors) == (5, 2)
    cell = snap.cells["sim · 0.7 · stream"]
    assert (cell.done, cell.errors) == (5, 2) and cell.p50_wait_s == 0.2  # the median of the two ok requests' waits
