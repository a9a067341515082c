"""`python -m streaming bench | report | runs`: exit codes, JSON, exports, and crash safety (the gate and the crashes as real processes)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from streaming.server.launcher import ServerHandle
from streaming.store import integrity_check, list_runs, load_requests

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
mode = "both"
requests = 4
concurrency = 2
warmup = 0
prompts = ["one", "two"]
[[deployments]]
name = "sim-cli"
provider = "simulated"
ttft_ms = 30
tokens_per_s = 1000
output_tokens = 8
"""


def cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "streaming", *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=dict(os.environ))


def in_process(capsys: pytest.CaptureFixture[str], *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through ``streaming.cli.main`` in this process (no interpreter start): its exit code and output."""
    from streaming.cli import main

    capsys.readouterr()
    rc = main(list(args))
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(["python", "-m", "streaming", *args], rc, out, err)


@pytest.fixture
def bench_toml(tmp_path: Path) -> Path:
    p = tmp_path / "bench.toml"
    p.write_text(CONFIG)
    return p


@pytest.mark.slow
def test_fail_if_exit_codes_json_and_reports(server: ServerHandle, tmp_path: Path, bench_toml: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The gate as CI runs it (a process and its exit code); the rest through ``main`` in this process, the same code without a start each."""
    db = str(tmp_path / "cli.db")
    ok = in_process(capsys, "bench", "--config", str(bench_toml), "--db", db, "--json", "--quiet", "--fail-if", "ttft_p95 > 10")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert out["status"] == "finished" and out["failed_conditions"] == []
    assert {r["mode"] for r in out["summary"]} == {"stream", "non-stream"} and all(r["n"] == 2 for r in out["summary"])

    gated = cli("bench", "--config", str(bench_toml), "--db", db, "--fail-if", "ttft_p95 > 0.001", "--mode", "stream")
    assert gated.returncode == 1
    assert "fail-if: ttft_p95 > 0.001 holds for sim-cli" in gated.stderr
    assert gated.stdout.strip().splitlines()[-1].startswith("run finished: ")
    assert "TTFT p95 ms" in gated.stdout

    bad = in_process(capsys, "bench", "--config", str(bench_toml), "--db", db, "--fail-if", "ttfb_p95 > 1")
    assert bad.returncode == 2 and "unknown metric 'ttfb_p95'" in bad.stderr

    runs = in_process(capsys, "runs", "--db", db, "--json")
    listed = json.loads(runs.stdout)
    assert [r["status"] for r in listed] == ["finished", "finished"] and listed[0]["n_requests"] == 4  # --mode stream: 4 streamed

    csv_path, pq_path = tmp_path / "r.csv", tmp_path / "r.parquet"
    assert in_process(capsys, "report", "--db", db, "--format", "csv", "--out", str(csv_path)).returncode == 0
    assert in_process(capsys, "report", out["run_id"], "--db", db, "--format", "parquet", "--out", str(pq_path)).returncode == 0
    latest, first = pd.read_csv(csv_path), pd.read_parquet(pq_path)
    assert len(latest) == 4 and set(latest["mode"]) == {"stream"}  # the latest run by default
    assert len(first) == 4 and first["run_id"].eq(out["run_id"]).all() and len(first["chunk_times_s"].iloc[0]) in (0, 8)
    table = in_process(capsys, "report", out["run_id"], "--db", db)
    assert table.returncode == 0 and "sim-cli" in table.stdout and out["run_id"] in table.stdout
    js = json.loads(in_process(capsys, "report", "--db", db, "--format", "json").stdout)
    assert len(js) == 4 and isinstance(js[0]["itl_s"], list) and js[0]["ttft_s"] > 0


def test_kill_9_mid_run_keeps_finished_requests(server: ServerHandle, tmp_path: Path) -> None:
    cfg = tmp_path / "long.toml"
    cfg.write_text(CONFIG.replace("requests = 4", "requests = 400").replace('mode = "both"', 'mode = "stream"').replace("ttft_ms = 30", "ttft_ms = 60"))
    db = tmp_path / "crash.db"
    proc = subprocess.Popen([sys.executable, "-m", "streaming", "bench", "--config", str(cfg), "--db", str(db), "--quiet"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    seen: list[tuple] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(seen) < 10:  # wait for some committed requests, then kill
            if db.exists():
                with sqlite3.connect(db, timeout=10) as c:
                    try:
                        seen = c.execute("SELECT id, response_id FROM requests").fetchall()
                    except sqlite3.OperationalError:  # schema not created yet
                        seen = []
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert len(seen) >= 10
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    assert integrity_check(db) == "ok"
    df = load_requests(db)
    assert set(seen) <= set(zip(df["request_key"], df["response_id"]))  # every request committed before the kill is there
    assert 10 <= len(df) < 400 and (df["status"] == "ok").all()
    assert all(len(t) == n for t, n in zip(df["chunk_times_s"], df["chunks"]))  # each with its whole timeline
    assert list_runs(db).iloc[0]["status"] == "interrupted"  # still 'running' on disk, but its process is gone


def test_summary_table_flags_percentiles_the_sample_cannot_support() -> None:
    import pandas as pd

    from streaming.analysis.tables import format_summary

    row = {"deployment": "sim-fast", "temperature": 0.0, "mode": "stream", "n": 12, "ok": 12, "errors": 0, "retries": 0,
           "retry_wait_s": 0.0, "schedule_lag_p99": float("nan")}  # fmt: skip
    for m in ("ttft", "e2e", "tpot", "tokens_per_s"):
        for p in (50, 90, 95, 99):
            row[f"{m}_p{p}"] = 0.2 + p / 1000
    small = format_summary(pd.DataFrame([row]))
    line = small.splitlines()[1].split()
    assert "250" in line and "290" in line and "295*" in line and "299*" in line  # p50/p90 fine at n=12; p95/p99 are not
    assert "too few requests" in small
    big = format_summary(pd.DataFrame([{**row, "n": 150, "ok": 150}]))
    assert "*" not in big


def test_html_report_without_out_goes_to_a_named_file_not_the_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    import numpy as np
    from metrics_frames import make_record

    from streaming import store
    from streaming.cli import main

    db = tmp_path / "r.db"
    with store.Store(db) as s:
        run_id = s.create_run("bench", {})
        s.add_records(run_id, [(make_record("sim-fast", i % 2 == 0, np.random.default_rng(i), idx=i), {"seq": i, "prompt_id": "p0"}) for i in range(4)])
    monkeypatch.chdir(tmp_path)
    assert main(["report", run_id, "--db", str(db), "--format", "html"]) == 0
    out, err = capsys.readouterr()
    page = tmp_path / f"streaming-report-{run_id}.html"
    assert out == "" and page.stat().st_size > 1_000_000  # the megabytes went to the file, not to the terminal
    assert f"wrote the HTML report of run {run_id} to {page}" in err and "--out FILE" in err
    assert main(["report", run_id, "--db", str(db), "--format", "html", "--out", "-"]) == 0  # asked for on stdout: a pipe
    assert capsys.readouterr().out.lower().startswith("<!doctype html>")
