"""Spans of throughput figures, on hand-made requests stored and read back: values computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from streaming.analysis.capacity import throughput_row
from streaming.analysis.spans import span_of, worker_windows
from streaming.analysis.tables import format_summary, summarize
from streaming.core.record import StreamRecord
from streaming.store import Store, load_requests

WALL0 = datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp()


def rec(t0: float, e2e: float, offset: float | None, i: int) -> StreamRecord:
    """A finished streamed request sent at ``t0`` on its process's clock; ``started_at`` is its true wall time to the ms."""
    wall = datetime.fromtimestamp(t0 + (offset if offset is not None else 0.0), tz=UTC)
    return StreamRecord(deployment="sim-x", provider="simulated", model="sim-x", stream=True, temperature=0.0, status="ok",
                        t0_monotonic=t0, ttft_s=0.1, t_last_token_s=e2e - 0.01, e2e_s=e2e, output_tokens=5, input_tokens=3,
                        started_at=wall.isoformat(timespec="milliseconds").replace("+00:00", "Z"), response_id=f"r{i}",
                        chunk_times_s=[0.1], chunk_chars=[1])  # fmt: skip


def store_run(st: Store, sends: list[float], offset: float, *, anchored: bool = True, worker: str | None = None, tag: str = "bench") -> str:
    run_id = st.create_run(tag, {}) if tag == "bench" else st.get_or_create_demo_run()
    for i, t in enumerate(sends):
        r = rec(t, 1.0, offset, i)
        r.worker = worker
        st.add_record(run_id, r, seq=i, prompt_id="p", clock_offset_s=offset if anchored else None)
    return run_id


def test_gaps_between_runs_are_left_out(tmp_path: Path) -> None:
    db = tmp_path / "gaps.db"
    with Store(db) as st:  # run A sends at 0..9 s (ends at 10 s), run B 100 s later, on another clock epoch
        a = store_run(st, [float(i) for i in range(10)], WALL0 - 0.0)
        b = store_run(st, [500.0 + i for i in range(10)], WALL0 + 100.0 - 500.0)
    df = load_requests(db)
    assert df["clock_offset_s"].notna().all()
    s = span_of(df)
    assert (s.seconds, s.runs, s.workers) == (pytest.approx(20.0), 2, 1) and s.text == "over 1 worker, 2 runs, 20.0 s"
    row = throughput_row(df)
    assert row["requests_per_s"] == pytest.approx(20 / 20.0) and row["output_tokens_per_s"] == pytest.approx(100 / 20.0)
    assert span_of(df[df["run_id"] == a]).seconds == pytest.approx(10.0) and span_of(df[df["run_id"] == b]).seconds == pytest.approx(10.0)
    table = summarize(df)  # the throughput table's row says which span it divides by
    assert table["span"].iloc[0] == "over 1 worker, 2 runs, 20.0 s" and table["requests_per_s"].iloc[0] == pytest.approx(1.0)
    assert "per second of each row's span: over 1 worker, 2 runs, 20.0 s" in format_summary(table)  # the CLI's table says it too


def test_overlapping_runs_count_once(tmp_path: Path) -> None:
    db = tmp_path / "overlap.db"
    with Store(db) as st:  # A covers wall 0–10 s, B 5–15 s: 15 s of sending
        store_run(st, [float(i) for i in range(10)], WALL0)
        store_run(st, [float(i) for i in range(10)], WALL0 + 5.0)
    assert span_of(load_requests(db)).seconds == pytest.approx(15.0)


def test_rows_without_an_anchor_use_started_at(tmp_path: Path) -> None:
    db = tmp_path / "legacy.db"
    with Store(db) as st:  # one run, two processes 4,000 s apart in clock epoch, both sending over wall 0–8 s
        run_id = st.create_run("bench", {})
        for w, epoch in (("w0", 100.0), ("w1", 4100.0)):
            for i in range(8):
                r = rec(epoch + i, 1.0, WALL0 - epoch, i)
                r.worker = w
                st.add_record(run_id, r, seq=i, prompt_id="p")  # no clock_offset_s: stored before the anchor existed
    df = load_requests(db)
    s = span_of(df)
    assert s.seconds == pytest.approx(8.0, abs=0.002) and not s.anchored and "estimated from started_at" in s.text
    assert worker_windows(df)["window_s"].tolist() == pytest.approx([8.0, 8.0])  # each worker on its own clock


def test_demo_turns_count_their_own_time(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"
    with Store(db) as st:  # two 1-second turns an hour apart
        store_run(st, [10.0, 3610.0], WALL0, tag="demo")
    assert span_of(load_requests(db)).seconds == pytest.approx(2.0)
