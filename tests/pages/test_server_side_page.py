"""The Metrics page's "Server side": a real run on the built-in server (its queue scraped, a dead metrics URL named),
and the rate-limit chart with its 429s (records as the store keeps them)."""

from __future__ import annotations

import base64
import socket
import uuid
from pathlib import Path

import numpy as np
import pytest
from metrics_frames import chart_specs, make_record
from streamlit.testing.v1 import AppTest

from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.core.record import Attempt
from streaming.server.launcher import ServerHandle
from streaming.store import Store

PAGE = str(Path(__file__).resolve().parents[2] / "pages" / "metrics.py")


def _dead_port() -> int:
    with socket.socket() as s:  # bound and closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _values(v: object) -> list:
    """A trace's array: plotly sends numbers as typed arrays ({dtype, bdata})."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)  # type: ignore[call-overload]


def _titles(fig: dict) -> str:
    layout = fig.get("layout", {})
    return str(layout.get("title", {}).get("text", "")) + " ".join(str(a.get("text", "")) for a in layout.get("annotations", []))


def test_server_side_shows_the_queue_the_split_and_the_unscrapable(server: ServerHandle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name, other = f"sim-q4-{uuid.uuid4().hex[:6]}", f"sim-dead-{uuid.uuid4().hex[:6]}"
    dead = f"http://127.0.0.1:{_dead_port()}/metrics"
    deps = [Deployment(name=name, provider="simulated", model=name,
                       sim=SimProfile(ttft_ms=50, tokens_per_s=100, output_tokens=20, capacity=4, queue_timeout_s=30)),
            Deployment(name=other, provider="simulated", model=other, metrics_url=dead, sim=SimProfile(ttft_ms=50, output_tokens=5))]  # fmt: skip
    db = tmp_path / "page.db"
    with Store(db) as st:
        run_benchmark(BenchConfig(deployments=deps, mode="stream", requests=12, concurrency=12, warmup=0, prompts=["p"], scrape_interval_s=0.1), st)
    monkeypatch.setenv("STREAMING_DB", str(db))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception
    assert "Server side" in [s.value for s in at.subheader]
    assert any(dead in w.value and "connection refused" in w.value for w in at.warning)  # what could not be scraped, and why
    sentence = next(m.value for m in at.markdown if m.value.startswith(f"{name}: of a "))
    assert "at 12 streams" in sentence and "was queueing in the server" in sentence
    assert next(m.value for m in at.markdown if m.value.startswith(f"{other}: of a ")).count(", 0 ms (0%) was queueing") == 1  # no capacity: no queue
    titles = [_titles(f) for f in chart_specs(at)]
    assert any("server: waiting and running requests" in t for t in titles)
    assert any("TTFT split per request" in t for t in titles)


def test_rate_limit_chart_shows_remaining_and_the_429s(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    items = []
    for i in range(20):
        rec = make_record("sim-fast", True, rng, idx=i)
        rec.ratelimit = {"x-ratelimit-remaining-requests": str(100 - i), "x-ratelimit-remaining-tokens": str(9000 - 400 * i)}
        if i == 12:  # retried after a 429, then served
            rec.attempts = [Attempt(1, 0.0, 0.01, "error", 429, "http_429", "rate limited", "req-429", 0.5)]
        items.append((rec, {"seq": i, "prompt_id": "p", "mode": "stream", "sent_s": 0.25 * i}))
    failed = make_record("sim-fast", True, rng, status="error", idx=20)
    failed.http_status, failed.ttft_s = 429, None
    items.append((failed, {"seq": 20, "prompt_id": "p", "mode": "stream", "sent_s": 5.0}))
    with Store(tmp_path / "rl.db") as st:
        run = st.create_run("bench", {"concurrency": 4}, deployments=["sim-fast"])
        st.add_records(run, items)
        st.finish_run(run)
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "rl.db"))
    at = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not at.exception and "Server side" in [s.value for s in at.subheader]
    (fig,) = [f for f in chart_specs(at) if "Rate limits over the run" in _titles(f)]
    traces = {t["name"]: t for t in fig["data"]}
    assert _values(traces["sim-fast remaining-requests"]["y"])[:2] == [100.0, 99.0]
    assert _values(traces["sim-fast remaining-tokens"]["y"])[-1:] == [9000.0 - 400 * 19]
    marks = traces["HTTP 429"]
    assert sorted(_values(marks["x"])) == [3.0, 5.0] and sorted(_values(marks["text"])) == ["429, failed", "429, retried"]
