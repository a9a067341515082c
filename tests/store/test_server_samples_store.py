"""The ``server_samples`` table (migration 5): written per scrape, read back with its labels, copied with its run."""

from __future__ import annotations

from pathlib import Path

from streaming.store import Store
from streaming.store.copy import copy_run
from streaming.store.samples import SampleRow, add_samples, load_samples
from streaming.store.schema import MIGRATIONS, connect


def test_samples_round_trip_and_travel_with_their_run(tmp_path: Path) -> None:
    src = tmp_path / "a.db"
    with Store(src) as st:
        run = st.create_run("bench", {})
        other = st.create_run("bench", {})
        rows = [SampleRow("sim-x", "http://127.0.0.1:1/metrics", "vllm:num_requests_waiting", "waiting", {"model_name": "sim-x"}, 24.0, 0.5, 1.7e9),
                SampleRow("sim-x", "http://127.0.0.1:1/metrics", "vllm:request_queue_time_seconds_bucket", "queue_time_bucket",
                          {"model_name": "sim-x", "le": "0.5"}, 3.0, 0.5, 1.7e9),
                SampleRow(None, "http://127.0.0.1:1/metrics", "process_cpu_seconds_total", None, {}, 1.25, 0.5, 1.7e9)]  # fmt: skip
        assert add_samples(st, run, rows) == 3 and add_samples(st, other, rows[:1]) == 1 and add_samples(st, run, []) == 0
    everything = load_samples(src, [run])
    assert len(everything) == 3 and everything["labels"].iloc[0] == {"model_name": "sim-x"}
    assert list(load_samples(src, [run], common_only=True)["name"]) == ["vllm:num_requests_waiting", "vllm:request_queue_time_seconds_bucket"]
    assert list(load_samples(src, [run], summary=True)["common"]) == ["waiting"]  # no histogram buckets
    assert copy_run(src, run, tmp_path / "b.db") == 0  # no requests, but its samples come along
    copied = load_samples(tmp_path / "b.db", [run])
    assert len(copied) == 3 and copied["value"].tolist() == [24.0, 3.0, 1.25]
    assert load_samples(tmp_path / "b.db", [other]).empty
    db = connect(tmp_path / "b.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) >= 4
    db.close()
