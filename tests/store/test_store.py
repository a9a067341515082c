"""Results database: round trip of every record field, migrations, secrets, concurrent writers, reads."""

from __future__ import annotations

import dataclasses
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from streaming import store as S
from streaming.core.record import StreamRecord
from streaming.store import (
    Store,
    integrity_check,
    list_runs,
    load_requests,
    load_timeline,
)


def full_record(i: int = 0, stream: bool = True) -> StreamRecord:
    times = [0.2, 0.25, 0.31] if stream else []
    return StreamRecord(
        deployment="sim-x", provider="simulated", model="sim-x", api="chat", stream=stream, temperature=0.7, max_tokens=64,
        status="ok", error=None, error_type=None, finish_reason="stop", response_id=f"chatcmpl-{i}", request_id=f"req-{i}",
        started_at="2026-01-01T00:00:00.000Z", http_status=200, t_headers_s=0.01, t_first_event_s=0.02,
        ttft_s=0.2 if stream else None, t_last_token_s=0.31 if stream else None, e2e_s=0.4, output_tokens=3, tokens_source="usage",
        input_tokens=9, chunks=3, events=6, retries=1, retry_wait_s=0.5, usage_requested=stream, text="a bc def",
        ratelimit={"x-ratelimit-remaining-requests": "9"}, content_filter=[{"prompt": []}], chunk_times_s=times,
        chunk_chars=[1, 2, 3][: len(times)], t0_monotonic=1234.5, bad_payload=None,
        attempts=[{"attempt": 0, "http_status": 429, "wait_s": 0.5}], connect_s=0.003, resume_of=f"chatcmpl-prev-{i}",
    )  # fmt: skip


def test_round_trip_keeps_every_record_field(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    with Store(path) as st:
        run = st.create_run("bench", {"x": 1})
        for i, stream in enumerate((True, False)):
            st.add_record(run, full_record(i, stream), seq=i, prompt_id="short-1", prompt_size="short", pair_id="p", scheduled_s=0.5, sent_s=0.75)
    df = load_requests(path, [run])
    assert len(df) == 2
    for i, stream in enumerate((True, False)):
        want = full_record(i, stream).to_dict()
        row = df.iloc[i]
        for k, v in want.items():
            got = row[k]
            if k in ("ratelimit", "content_filter", "attempts"):
                got = __import__("orjson").loads(got)
            if isinstance(v, list) and k in ("chunk_times_s", "chunk_chars", "itl_s"):
                assert np.allclose(np.asarray(got, dtype=float), np.asarray(v, dtype=float)), k
            elif v is None:
                assert got is None or (not isinstance(got, str) and np.isnan(float(got))), (k, got)
            else:
                assert got == pytest.approx(v) if isinstance(v, float) else got == v, (k, got, v)
        assert row["run_id"] == run and row["tag"] == "bench" and row["seq"] == i
        assert row["mode"] == ("stream" if stream else "non-stream")
        assert row["schedule_lag_s"] == pytest.approx(0.25)
    assert df.iloc[0]["perceived_wait_s"] == pytest.approx(0.2)  # TTFT when streaming
    assert df.iloc[1]["perceived_wait_s"] == pytest.approx(0.4)  # e2e otherwise


def test_migrations_are_numbered_and_run_once(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    raw = sqlite3.connect(path)
    S.MIGRATIONS[0](raw)  # an old database: only the first migration applied
    raw.execute("PRAGMA user_version = 1")
    raw.commit()
    raw.close()
    Store(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(S.MIGRATIONS) >= 2
    cols = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
    assert {"loop_lag_p99_ms", "deployments"} <= cols
    assert {"connect_s", "resume_of"} <= {r[1] for r in db.execute("PRAGMA table_info(requests)")}
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    Store(path).close()  # opening again applies nothing and does not fail
    assert [f.__name__ for f in S.MIGRATIONS][:3] == ["m001_initial", "m002_run_metrics", "m003_connect_and_resume"]


def test_config_snapshot_has_no_secrets(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as st:
        run = st.create_run("bench", {"api_key": "sk-secret", "headers": {"Authorization": "Bearer sk-secret", "x-sim-fault": "429"},
                                      "api_key_env": "OPENAI_API_KEY", "max_tokens": 10})  # fmt: skip
        info = st.run_info(run)
    assert info is not None
    assert "sk-secret" not in repr(info)
    assert info["config"] == {"headers": {"x-sim-fault": "429"}, "api_key_env": "OPENAI_API_KEY", "max_tokens": 10}
    assert info["versions"]["streaming"] and info["host"]["cpus"]


def test_runs_list_counts_and_demo_run(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Store(path) as st:
        run = st.create_run("bench", {}, deployments=["sim-x"])
        st.add_record(run, full_record(0), seq=0)
        bad = dataclasses.replace(full_record(1), status="error", error="HTTP 500")
        st.add_record(run, bad, seq=1)
        st.add_record(run, full_record(2), seq=-1, warmup=True)
        st.finish_run(run, "finished", warnings=["w1"])
        demo = st.get_or_create_demo_run()
        assert st.get_or_create_demo_run() == demo
        st.add_record(demo, full_record(3), turn_kind="chat")  # an extra the schema does not know: kept as a column
    runs = list_runs(path).set_index("run_id")
    assert runs.loc[run, "n_requests"] == 2 and runs.loc[run, "n_errors"] == 1  # warmup not counted
    assert runs.loc[run, "status"] == "finished" and runs.loc[run, "warnings"] == ["w1"] and runs.loc[run, "deployments"] == ["sim-x"]
    assert runs.loc[demo, "tag"] == "demo"
    demo_rows = load_requests(path, tags=["demo"])
    assert list(demo_rows["tag"]) == ["demo"] and list(demo_rows["run_id"]) == [demo] and list(demo_rows["turn_kind"]) == ["chat"]
    assert len(load_requests(path, [run], include_warmup=True)) == 3


def test_timeline_by_row_or_response_id(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    with Store(path) as st:
        run = st.create_run("bench", {})
        key = st.add_record(run, full_record(7))
    by_key = load_timeline(path, [key])
    by_resp = load_timeline(path, ["chatcmpl-7"])
    assert list(by_key["t_s"]) == [0.2, 0.25, 0.31] and list(by_key["chars"]) == [1, 2, 3]
    assert by_key.equals(by_resp)
    assert load_timeline(path, ["nope"]).empty


WRITER = """
import sys
from streaming.store import Store
from streaming.core.record import StreamRecord
st = Store(sys.argv[1])
run = st.create_run("bench", {})
for i in range(300):
    st.add_record(run, StreamRecord(deployment="d", provider="simulated", model="m", ttft_s=0.1, e2e_s=0.2,
                  chunk_times_s=[0.1, 0.2], chunk_chars=[1, 1]), seq=i)
print(run)
"""


def test_two_processes_write_at_once_without_locking_errors(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    Store(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[2]) for _ in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1][-500:] for o in outs]
    df = load_requests(path)
    assert len(df) == 600 and df["run_id"].nunique() == 2
    assert integrity_check(path) == "ok"


def test_numeric_blob_layouts_are_read_by_width(tmp_path) -> None:
    """A row written by an older layout (a narrower blob) reads NaN in the columns added since; the rest is unchanged."""
    import sqlite3

    import numpy as np

    from streaming.core.record import StreamRecord
    from streaming.store import NUM_LAYOUTS, Store, load_requests

    db = tmp_path / "layouts.db"
    with Store(db) as s:
        run = s.create_run("bench")
        for i in range(3):
            rec = StreamRecord(deployment="d", provider="simulated", model="m", ttft_s=0.1 * (i + 1), e2e_s=1.0 + i,
                               ttft_incl_retries_s=0.5 + i, e2e_incl_retries_s=1.5 + i, output_tokens=5, chunks=5)  # fmt: skip
            s.add_record(run, rec, seq=i)
    old_width = len(NUM_LAYOUTS[0]) * 8
    with sqlite3.connect(db) as c:  # make row 1 look like it was written before layout 2 existed
        c.execute("UPDATE requests SET num = substr(num, 1, ?) WHERE seq = 1", (old_width,))
    df = load_requests(db).sort_values("seq")
    assert np.allclose(df["ttft_s"], [0.1, 0.2, 0.3]) and np.allclose(df["e2e_s"], [1.0, 2.0, 3.0])
    assert df["ttft_incl_retries_s"].iloc[0] == 0.5 and np.isnan(df["ttft_incl_retries_s"].iloc[1]) and df["e2e_incl_retries_s"].iloc[2] == 3.5
