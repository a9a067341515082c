"""A malformed STREAMING_DEPLOYMENTS file. The Benchmark page says so once and still runs the built-ins;
the Deployments page lists the built-ins beside the error; doctor reports the variable's file."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from streaming.core.config import BUILTINS

ROOT = Path(__file__).resolve().parents[2]
PAGES = ROOT / "pages"


@pytest.fixture
def broken(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bad = tmp_path / "broken.toml"
    bad.write_text('[[deployments]]\nname = "x"\nprovider = "simulated"\nttft_ms = "fast"\n')
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(bad))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "m.db"))
    monkeypatch.setenv("STREAMING_SERVER_URL", server.url)
    return bad


def test_benchmark_page_says_it_once_and_start_runs_the_builtins(broken: Path) -> None:
    at = AppTest.from_file(str(PAGES / "benchmark.py"), default_timeout=30).run()
    said = [m.value for m in (*at.warning, *at.error) if str(broken) in m.value]
    assert len(said) == 1 and said[0].startswith("The deployments file could not be read")
    assert any("requests in" in c.value for c in at.caption)  # the preview of the built-in matrix
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    job = at.session_state["bench_job"]
    assert job.wait(60) and job.error is None and job.progress.phase == "finished"


def test_deployments_page_shows_the_builtins_beside_the_error(broken: Path) -> None:
    at = AppTest.from_file(str(PAGES / "deployments.py"), default_timeout=30).run()
    assert not at.exception
    assert len(at.error) == 1 and str(broken) in at.error[0].value
    assert set(at.dataframe[0].value["name"]) == {d.name for d in BUILTINS}
    at.button(key="check").click().run()
    assert [s.value for s in at.success] == ["It answered."]


def test_doctor_reports_the_variables_file(broken: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "STREAMING_SERVER_URL"}
    p = subprocess.run([sys.executable, "-m", "streaming", "doctor"], capture_output=True, text=True, cwd=ROOT, env=env, timeout=240)
    line = next(ln for ln in p.stdout.splitlines() if "deployments file" in ln)
    assert line.startswith("FAIL") and "STREAMING_DEPLOYMENTS: " in line and str(broken) in line, p.stdout
    assert "none (built-ins only)" not in p.stdout
