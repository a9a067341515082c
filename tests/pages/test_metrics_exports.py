"""The Metrics page's CSV download holds exactly the selected rows: every filter changes it (AppTest, with the rows read back)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit.testing.v1.app_test as app_test
from metrics_frames import make_record
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from streaming import store
from streaming.analysis import replays

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "metrics.py")


class KeptStorage(MemoryMediaFileStorage):
    """AppTest's in-memory media storage, kept after the run so the test can read what the page offered for download."""

    last: KeptStorage | None = None

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint)
        KeptStorage.last = self


def make_db(path: Path) -> None:
    """One run in which every filter has two values: deployment, temperature, mode, prompt size, API, effort; and replayed rows."""
    rng = np.random.default_rng(1)
    t = datetime(2026, 1, 1, 10, tzinfo=UTC)
    items, i = [], 0
    for dep, provider in (("sim-fast", "simulated"), ("sim-slow", "simulated"), ("replay-fast", "replay")):
        for temp in (0.0, 1.0):
            for stream in (True, False):
                for size in ("short", "long"):
                    for api, effort in (("chat", None), ("responses", "high")):
                        rec = make_record(dep, stream, rng, temp, started=t + timedelta(seconds=i), idx=i)
                        rec.provider, rec.api, rec.reasoning_effort = provider, api, effort
                        items.append((rec, {"seq": i, "prompt_id": f"p{size}", "prompt_size": size, "mode": "stream" if stream else "non-stream"}))
                        i += 1
    with store.Store(path) as s:
        run_id = s.create_run("bench", {}, deployments=["sim-fast", "sim-slow", "replay-fast"])
        s.add_records(run_id, items)
        s.finish_run(run_id)


def csv_rows(at: AppTest) -> pd.DataFrame:
    """The CSV the page's download button holds, parsed."""
    button = next(b for b in at.get("download_button") if b.proto.label.endswith("(CSV)"))
    assert KeptStorage.last is not None
    data = KeptStorage.last.get_file(button.proto.url.rsplit("/", 1)[-1]).content
    return pd.read_csv(io.BytesIO(data))


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    make_db(tmp_path / "x.db")
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "x.db"))
    monkeypatch.setattr(app_test, "MemoryMediaFileStorage", KeptStorage)
    return AppTest.from_file(PAGE, default_timeout=60).run()


FILTERS: list[tuple[str, Any, str, Any]] = [  # widget key, new value, CSV column, the values it should leave
    ("f_dep", ["sim-slow"], "deployment", {"sim-slow"}),
    ("f_temp", [1.0], "temperature", {1.0}),
    ("f_mode", ["non-stream"], "mode", {"non-stream"}),
    ("f_size", ["long"], "prompt_size", {"long"}),
    ("f_api", ["responses"], "api", {"responses"}),
    ("f_effort", ["high"], "reasoning_effort", {"high"}),
]


def test_each_filter_changes_the_csv_rows(page: AppTest) -> None:
    at = page
    assert not at.exception
    full = csv_rows(at)
    assert len(full) == 2**5 and set(full["deployment"]) == {"sim-fast", "sim-slow"}  # live rows only by default (API and effort go together)
    for key, value, column, left in FILTERS:
        at.multiselect(key=key).set_value(value).run()
        assert not at.exception
        rows = csv_rows(at)
        assert len(rows) == len(full) // 2 and set(rows[column]) == left, key  # half the rows, the chosen half
        at.multiselect(key=key).set_value([]).run()
        assert len(csv_rows(at)) == len(full), key  # cleared: all rows again, not a stale export
    for choice, deployments in ((replays.REPLAYS, {"replay-fast"}), (replays.BOTH, {"sim-fast", "sim-slow", "replay-fast"})):
        at.radio(key="f_measured").set_value(choice).run()
        assert not at.exception and set(csv_rows(at)["deployment"]) == deployments, choice
