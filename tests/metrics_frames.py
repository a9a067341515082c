"""Synthetic request frames with the columns of ``store.load_requests``, built from real StreamRecord objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from streaming import store
from streaming.core.record import StreamRecord

# name -> (median TTFT s, tokens/s, output tokens)
PROFILES: dict[str, tuple[float, float, int]] = {"sim-fast": (0.2, 100.0, 12), "sim-slow": (0.8, 25.0, 8), "sim-turbo": (0.15, 200.0, 16)}


def make_record(
    deployment: str,
    stream: bool,
    rng: np.random.Generator,
    temperature: float = 0.0,
    ttft: float | None = None,
    tps: float | None = None,
    tokens: int | None = None,
    status: str = "ok",
    started: datetime | None = None,
    idx: int = 0,
) -> StreamRecord:
    """One plausible record: content chunks every 1/tps seconds with jitter, e2e just after the last token."""
    base_ttft, base_tps, base_tokens = PROFILES.get(deployment, (0.3, 50.0, 10))
    ttft = ttft if ttft is not None else base_ttft * float(rng.lognormal(0.0, 0.15)) * (1 + 0.2 * temperature)
    tps = tps if tps is not None else base_tps * float(rng.lognormal(0.0, 0.1))
    tokens = tokens if tokens is not None else base_tokens
    gaps = rng.exponential(1.0 / tps, size=tokens - 1)
    times = list(ttft + np.concatenate([[0.0], np.cumsum(gaps)]))
    rec = StreamRecord(
        deployment=deployment,
        provider="simulated",
        model=deployment,
        stream=stream,
        temperature=temperature,
        max_tokens=64,
        status=status,
        finish_reason="length",
        response_id=f"chatcmpl-{deployment}-{idx}",
        request_id=f"req-{idx}",
        started_at=(started or datetime(2026, 1, 1, tzinfo=UTC)).isoformat().replace("+00:00", "Z"),
        http_status=200,
        t_headers_s=ttft * 0.5,
        t_first_event_s=ttft * 0.6,
        ttft_s=times[0],
        t_last_token_s=times[-1],
        e2e_s=times[-1] + 0.002,
        output_tokens=tokens,
        tokens_source="usage",
        input_tokens=12,
        chunks=tokens,
        events=tokens + 2,
        text="x" * (3 * tokens),
        chunk_times_s=[float(t) for t in times],
        chunk_chars=[3] * tokens,
    )
    if not stream:  # a non-streaming call has one body: no TTFT, no chunks; the wait is e2e
        rec.ttft_s = rec.t_last_token_s = None
        rec.chunk_times_s, rec.chunk_chars, rec.chunks = [], [], 0
    if status != "ok":
        rec.error, rec.error_type, rec.http_status = "rate limited", "RateLimitError", 429
        rec.ttft_s = rec.t_last_token_s = None
        rec.output_tokens, rec.chunk_times_s, rec.chunk_chars, rec.text = None, [], [], ""
    return rec


def row(rec: StreamRecord, run_id: str, prompt_id: str, seq: int, prompt_size: str = "short", tag: str = "bench") -> dict:
    d = rec.to_dict()
    d.update(run_id=run_id, tag=tag, prompt_id=prompt_id, prompt_size=prompt_size, mode="stream" if rec.stream else "non-stream", seq=seq)
    d["perceived_wait_s"] = d["ttft_s"] if rec.stream else d["e2e_s"]
    return d


def make_frame(
    deployments: tuple[str, ...] = ("sim-fast", "sim-slow"),
    temperatures: tuple[float, ...] = (0.0, 1.0),
    prompts: int = 4,
    repeats: int = 3,
    modes: tuple[bool, ...] = (True, False),
    run_id: str = "run-a",
    failures: int = 1,
    seed: int = 0,
) -> pd.DataFrame:
    """A small benchmark run: deployments × temperatures × modes × prompts × repeats, with ``failures`` 429s."""
    rng = np.random.default_rng(seed)
    rows, seq = [], 0
    t = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)
    for dep in deployments:
        for temp in temperatures:
            for stream in modes:
                for p in range(prompts):
                    for _ in range(repeats):
                        status = "error" if seq < failures else "ok"
                        rec = make_record(dep, stream, rng, temp, status=status, started=t + timedelta(seconds=seq), idx=seq)
                        rows.append(row(rec, run_id, f"p{p}", seq, "short" if p % 2 == 0 else "long"))
                        seq += 1
    return pd.DataFrame(rows)


METRICS_PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "metrics.py")


def make_db(path: Path) -> str:
    """A results database at ``path`` with one bench run: 3 deployments × 2 temperatures × both modes × 3 prompts × 3 repeats, with one 429; and a demo run."""
    rng = np.random.default_rng(0)
    t = datetime(2026, 1, 1, 10, tzinfo=UTC)
    items, seq = [], 0
    for dep in ("sim-fast", "sim-slow", "sim-turbo"):
        for temp in (0.0, 1.0):
            for stream in (True, False):
                for p in range(3):
                    for _ in range(3):
                        rec = make_record(dep, stream, rng, temp, status="error" if seq == 0 else "ok", started=t + timedelta(seconds=seq), idx=seq)
                        items.append((rec, {"seq": seq, "prompt_id": f"p{p}", "prompt_size": "short", "mode": "stream" if stream else "non-stream"}))
                        seq += 1
    with store.Store(path) as s:
        run_id = s.create_run("bench", {"test": True}, deployments=["sim-fast", "sim-slow", "sim-turbo"])
        s.add_records(run_id, items)
        s.finish_run(run_id)
        demo = s.get_or_create_demo_run()
        s.add_record(demo, make_record("sim-fast", True, rng, 0.7, idx=999), prompt_id="demo")
    return run_id


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    path = tmp_path / "results.db"
    run_id = make_db(path)
    monkeypatch.setenv("STREAMING_DB", str(path))
    return path, run_id


def text_of(at: Any) -> str:
    """What an AppTest run of a page says in Markdown and captions."""
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def chart_specs(at: Any) -> list[dict[str, Any]]:
    """The plotly figures an AppTest run of a page drew, as their JSON specs."""
    return [orjson.loads(c.proto.spec) for c in at.get("plotly_chart")]
