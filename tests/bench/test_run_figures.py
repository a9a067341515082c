"""Figures that stay honest under retries, schedules and failures (real runs against the built-in server)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import http_client, http_stream
import numpy as np
import pandas as pd

from streaming.analysis.report import html_report
from streaming.analysis.tables import (
    format_percentile_table,
    format_summary,
    percentile_table,
    summarize,
)
from streaming.bench.gates import failed_conditions
from streaming.bench.runner import run_benchmark
from streaming.core.config import Fault
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests
from tests.bench.test_runner import fast_cfg, sim

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return port


@pytest.mark.alone
def test_retry_inclusive_figures_are_shown_whenever_a_request_retried(server: ServerHandle, tmp_path: Path) -> None:
    """A 429 (retry-after 300 ms) then success; the summary, the percentile table and the report show both figures."""
    flaky = sim(faults=(Fault(kind="429", every=2, seconds=0.3),))
    with Store(tmp_path / "r.db") as st:
        run = run_benchmark(fast_cfg(deployments=[flaky], mode="stream", requests=4, concurrency=1, max_retries=1), st)
    df = load_requests(tmp_path / "r.db", [run])
    assert (df["status"] == "ok").all() and df["retries"].sum() == 3
    s = summarize(df).iloc[0]
    # the 300 ms wait is in every retried request's figure: at least 0.3 s plus its own TTFT (≥ the run's smallest)
    assert s["ttft_p99"] < 0.25 and s["ttft_incl_retries_p99"] >= df["ttft_s"].min() + 0.3
    assert s["e2e_incl_retries_p50"] > s["e2e_p50"]
    text = format_summary(summarize(df))
    assert "TTFT+retries p50 ms" in text and "e2e+retries p50 ms" in text
    table = format_percentile_table(percentile_table(df))
    assert {"TTFT (ms)", "TTFT incl. retries (ms)", "end-to-end incl. retries (ms)"} <= set(table["metric"])
    assert "TTFT incl. retries (ms)" in html_report(df)
    # no retry: no extra columns to distract
    calm = df.assign(retries=0)
    assert "retries p50" not in format_summary(summarize(calm))
    assert "TTFT incl. retries (ms)" not in set(format_percentile_table(percentile_table(calm))["metric"])


@pytest.mark.alone
def test_schedule_corrected_figures_in_rate_mode_and_fail_if_uses_them(server: ServerHandle, tmp_path: Path) -> None:
    """A deliberately slowed client (one request in flight at 20/s, 100 ms each) falls behind its schedule."""
    dep = sim(ttft_ms=100, tokens=2)
    with Store(tmp_path / "p.db") as st:
        run = run_benchmark(fast_cfg(deployments=[dep], mode="stream", requests=12, rate=20.0, max_in_flight=1, seed=3), st)
    df = load_requests(tmp_path / "p.db", [run])
    lag = df["schedule_lag_s"].to_numpy(float)
    assert lag.max() > 0.3  # the client fell behind
    # against the server's truth log: tests/bench/test_schedule_truth.py; here only that the send's setup can add, never remove
    assert (df["ttft_from_schedule_s"] >= lag + df["ttft_s"]).all() and (df["e2e_from_schedule_s"] >= lag + df["e2e_s"]).all()
    s = summarize(df)
    assert s.iloc[0]["ttft_p99"] < 0.3 < s.iloc[0]["ttft_from_schedule_p99"]
    text = format_summary(s)
    assert "TTFT from sched p99 ms" in text and "e2e from sched p99 ms" in text
    assert failed_conditions(s, ["ttft_p99 > 0.3"]) == []  # the plain figure hides the wait ...
    assert failed_conditions(s, ["ttft_from_schedule_p99 > 0.3"])  # ... the schedule-corrected one does not
    assert "TTFT from schedule (ms)" in set(format_percentile_table(percentile_table(df))["metric"])
    # outside rate mode the corrected figure is undefined: a gate on it fails and says why
    closed = failed_conditions(summarize(df.assign(schedule_lag_s=np.nan, ttft_from_schedule_s=np.nan)), ["ttft_from_schedule_p99 > 10"])
    assert len(closed) == 1 and "defined only in rate mode (--rate)" in closed[0]


def test_fail_if_fails_when_every_request_failed_against_a_closed_port(tmp_path: Path) -> None:
    """No successful request means no TTFT; a gate on it must fail, with a sentence saying why."""
    cfg = tmp_path / "bench.toml"
    cfg.write_text(f'mode = "stream"\nrequests = 2\nwarmup = 0\nmax_retries = 0\nprompts = ["x"]\n[[deployments]]\nname = "closed"\n'
                   f'provider = "compatible"\nbase_url = "http://127.0.0.1:{closed_port()}/v1"\nmodel = "m"\n')  # fmt: skip
    p = subprocess.run([sys.executable, "-m", "streaming", "bench", "--config", str(cfg), "--db", str(tmp_path / "c.db"), "--json",
                        "--quiet", "--fail-if", "ttft_p95 > 10"], capture_output=True, text=True, timeout=120, cwd=ROOT, env=dict(os.environ))  # fmt: skip
    assert p.returncode == 1, p.stderr
    out = json.loads(p.stdout)
    assert out["failed_conditions"] == ["ttft_p95 > 10 cannot be checked for closed · T=default · stream: ttft_p95 has no value (2 of 2 requests failed)"]


def test_fail_if_on_a_metric_undefined_for_the_runs_mode_fails() -> None:
    """TTFT of a non-streaming-only run, and an empty run."""
    row = {"deployment": "d", "temperature": np.nan, "mode": "non-stream", "n": 4, "ok": 4, "errors": 0, "ttft_p95": np.nan, "e2e_p95": 0.5,
           "schedule_lag_p99": np.nan}  # fmt: skip
    out = failed_conditions(pd.DataFrame([row]), ["ttft_p95 > 1", "e2e_p95 > 1"])
    assert out == ["ttft_p95 > 1 cannot be checked: ttft_p95 is undefined for non-streaming requests, and the run has no streaming ones"]
    assert failed_conditions(summarize(pd.DataFrame()), ["error_rate > 0"]) == ["error_rate > 0 cannot be checked: the run has no requests"]


def test_ttft_counts_every_request_that_reached_a_first_token(server: ServerHandle, tmp_path: Path) -> None:
    """Stalled requests have a real TTFT; e2e and tokens/s count completed ones only; n is per metric."""
    stalls = sim(ttft_ms=30, tps=200, faults=(Fault(kind="stall", every=2, after_tokens=2, seconds=2.0),))  # 5 ms gaps: under load, 1 ms ones can arrive in one read (no decode window)
    with Store(tmp_path / "s.db") as st:
        run = run_benchmark(fast_cfg(deployments=[stalls], mode="stream", requests=4, concurrency=2, stall_s=0.3, max_retries=0), st)
    df = load_requests(tmp_path / "s.db", [run])
    assert sorted(df["status"]) == ["ok", "ok", "stalled", "stalled"] and df["ttft_s"].notna().all()
    s = summarize(df).iloc[0]
    assert (s["n_ttft"], s["n_e2e"], s["n_tokens_per_s"]) == (4, 2, 2)
    assert s["ttft_p50"] == np.percentile(df["ttft_s"], 50)
    long = percentile_table(df)
    n = long.groupby("metric")["n"].first()
    assert n["ttft_s"] == 4 and n["e2e_s"] == 2 and n["tokens_per_s"] == 2
    assert "n TTFT" in format_summary(summarize(df))
    from streaming.analysis import charts

    box = charts.metric_box(charts.prepare(df), "ttft_s")  # the TTFT chart counts them too
    assert [len(t.y) for t in box.data if t.y is not None] == [4]  # the old chart drew the 2 completed ones


def test_percentile_table_units_are_ms_and_tok_per_s() -> None:
    """Never 0.00999 s."""
    df = pd.DataFrame({"deployment": "d", "temperature": 0.0, "mode": "stream", "status": "ok", "stream": True,
                       "ttft_s": np.linspace(0.009, 0.011, 30), "e2e_s": 0.5, "tpot_s": 0.00999, "tokens_per_s": 100.1})  # fmt: skip
    wide = format_percentile_table(percentile_table(df, resamples=50)).set_index("metric")
    assert list(wide.index) == ["TTFT (ms)", "end-to-end (ms)", "TPOT (ms/token)", "tokens/s (tok/s)"]
    assert wide.loc["TTFT (ms)", "p50"].startswith("10.0 [") and wide.loc["TPOT (ms/token)", "p50"].startswith("10.0 [")
    assert wide.loc["end-to-end (ms)", "p50"].startswith("500 [") and wide.loc["tokens/s (tok/s)", "p50"].startswith("100.1 [")


@pytest.mark.slow
def test_keys_come_from_the_secrets_file_for_the_cli_bench_and_relay(server: ServerHandle, tmp_path: Path) -> None:
    """The environment first, then .streamlit/secrets.toml, for every surface outside Streamlit too."""
    from streaming.core.auth import Credentials
    from streaming.server.launcher import start_server

    var = "LAB_SECRETS_FILE_TEST_KEY"
    work = tmp_path / "proj"
    (work / ".streamlit").mkdir(parents=True)
    deps = work / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "az-file"\nprovider = "azure"\nendpoint = "{server.url}"\ndeployment = "sim-fast"\n'
                    f'api_version = "2024-10-21"\napi_key_env = "{var}"\n')  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != var} | {"STREAMING_SERVER_URL": server.url, "PYTHONPATH": str(ROOT)}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "streaming", "--deployments", str(deps), *args], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip

    missing = run("chat", "-d", "az-file", "-n", "2", "hi")  # no key anywhere: one sentence naming the variable and both places
    assert missing.returncode == 2 and f"{var} is not set in the environment nor in .streamlit/secrets.toml" in missing.stderr
    (work / ".streamlit" / "secrets.toml").write_text(f'{var} = "sk-from-file"\n')
    chat = run("chat", "-d", "az-file", "-n", "2", "--json", "hi")
    assert chat.returncode == 0, chat.stderr
    assert json.loads(chat.stdout)["status"] == "ok"
    bench = run("bench", "-d", "az-file", "-n", "2", "--warmup", "0", "--db", str(tmp_path / "k.db"), "--json", "--quiet")
    assert bench.returncode == 0, bench.stderr
    summary = json.loads(bench.stdout)["summary"]
    assert sum(r["ok"] for r in summary) == 2 and sum(r["errors"] for r in summary) == 0
    # the relay (a server started in that directory) resolves the key the same way
    cwd = os.getcwd()
    os.chdir(work)
    try:
        assert Credentials().lookup(var) == "sk-from-file"
        os.environ[var] = "sk-from-env"
        try:
            assert Credentials().lookup(var) == "sk-from-env"  # the environment wins
        finally:
            del os.environ[var]
        relay = start_server(deployments_file=str(deps), log_dir=str(tmp_path))
    finally:
        os.chdir(cwd)
    try:
        body = {"deployment": "az-file", "max_tokens": 2, "messages": [{"role": "user", "content": "hi"}]}
        with http_stream("POST", f"{relay.url}/chat/stream", json=body, timeout=30, headers={"Authorization": f"Bearer {relay.token}"}) as r:
            text = r.read()
        assert r.status_code == 200 and b"[DONE]" in text and b"event: error" not in text
    finally:
        relay.stop()


@pytest.mark.alone
def test_bootstrap_resamples_prompts_when_they_repeat() -> None:
    """4 prompts × 50 repeats, the prompts differ, the repeats barely: the CI must reflect 4 prompts, not 200 requests."""
    from streaming.analysis.estimators import (
        _cluster_quantiles,
        _weighted_quantiles,
        cluster_bootstrap_quantiles,
    )
    from streaming.analysis.tables import headlines

    rng = np.random.default_rng(0)
    ttft = np.concatenate([v + rng.normal(0, 0.001, 50) for v in (0.1, 0.2, 0.3, 0.4)])
    df = pd.DataFrame({"deployment": "d", "temperature": 0.0, "mode": "stream", "status": "ok", "stream": True, "ttft_s": ttft,
                       "tokens_per_s": 50.0, "prompt_id": np.repeat(["a", "b", "c", "d"], 50)})  # fmt: skip
    long = percentile_table(df, metrics=("ttft_s",))
    p50 = long[long["q"] == 0.5].iloc[0]
    assert p50["n"] == 200 and p50["lo"] < 0.15 and p50["hi"] > 0.35  # request-level resampling gave about 0.20-0.30
    h = headlines(df)[0]
    assert h.ttft.lo < 0.15 and h.ttft.hi > 0.35
    # every prompt distinct: the ordinary bootstrap, unchanged
    distinct = cluster_bootstrap_quantiles(ttft, np.arange(200), [0.5])[0]
    assert 0.2 <= distinct.lo and distinct.hi <= 0.3
    # the fast path equals the expanded-weights definition (numpy's linear rule on the resampled requests)
    s = np.sort(rng.random(60))
    codes = rng.integers(0, 7, 60)
    counts = rng.multinomial(7, [1 / 7] * 7, size=30)
    qs = np.array([0.5, 0.9, 0.99])
    np.testing.assert_allclose(_cluster_quantiles(s, codes, 7, counts, qs), _weighted_quantiles(s, counts[:, codes], qs))
    for r in range(3):
        np.testing.assert_allclose(_weighted_quantiles(s, counts[r:r + 1, codes], qs)[:, 0], np.quantile(np.repeat(s, counts[r, codes]), qs))


def test_records_and_runs_say_how_they_were_measured(server: ServerHandle, tmp_path: Path) -> None:
    """``transport`` and its package version on every record and on the run; auto = wire (HTTP and HTTPS), httpx2 behind a proxy."""
    from importlib import metadata

    from streaming.core.client import AsyncClient, Client
    from streaming.core.request import LLMRequest
    from streaming.version import __version__

    dep = sim()
    with Store(tmp_path / "t.db") as st:
        run = run_benchmark(fast_cfg(deployments=[dep], mode="stream", requests=2), st)
        forced = run_benchmark(fast_cfg(deployments=[dep], mode="stream", requests=2, transport="httpx"), st)
        info = st.run_info(run)
    df = load_requests(tmp_path / "t.db", [run])
    assert (df["transport"] == "wire").all() and (df["transport_version"] == f"streaming {__version__}").all()
    assert info is not None and info["config"]["transports"] == {dep.name: f"wire (streaming {__version__})"}
    httpx_rows = load_requests(tmp_path / "t.db", [forced])
    assert (httpx_rows["transport"] == "httpx").all() and (httpx_rows["transport_version"] == f"httpx2 {metadata.version('httpx2')}").all()
    assert (httpx_rows["status"] == "ok").all()
    auto = AsyncClient([dep], server_url=server.url)
    assert auto.transport_for(f"{server.url}/v1/chat/completions") == "wire"
    assert auto.transport_for("https://my-resource.openai.azure.com/openai/deployments/x/chat/completions") == "wire"
    assert auto.transport_for("https://127.0.0.1:8443/v1/chat/completions") == "wire"
    assert AsyncClient([dep], server_url=server.url, transport="wire").transport_for("https://api.openai.com/v1/chat/completions") == "wire"
    with Client([dep], server_url=server.url) as c:
        rec = c.run(dep, LLMRequest.chat("hi", max_tokens=2))
    assert rec.transport == "httpx" and rec.to_dict()["transport_version"].startswith("httpx2 ")


def test_token_counts_without_usage_use_the_models_tokenizer(server: ServerHandle) -> None:
    """An Azure deployment (the built-in server's Azure route) streaming without usage: o200k_base counts, not chunks."""
    import bpe_openai

    from streaming.core.client import Client
    from streaming.core.config import Deployment
    from streaming.core.request import LLMRequest

    az = Deployment(name="az-tok", provider="azure", endpoint=server.url, deployment="sim-fast", model="gpt-4o", api_version="2024-10-21",
                    api_key_env=None)  # fmt: skip
    other = Deployment(name="compat-tok", provider="compatible", base_url=f"{server.url}/v1", model="sim-fast")
    bare = LLMRequest(messages=[{"role": "user", "content": "hello"}], max_tokens=12, include_usage=False)
    with Client([az, other], server_url=server.url) as c:
        with_usage = c.run(az, LLMRequest.chat("hello", max_tokens=12))
        counted = c.run(az, bare)
        unknown = c.run(other, bare)
    assert with_usage.tokens_source == "usage"
    assert counted.ok and counted.tokens_source == "bpe-openai:o200k_base"
    assert counted.output_tokens == len(bpe_openai.get_encoding("o200k_base").encode(counted.text)) > 0
    assert unknown.ok and unknown.tokens_source == "chunks" and unknown.output_tokens == unknown.chunks  # an unknown vocabulary: say so


def test_loop_lag_warning_fires_when_timestamps_are_at_risk_and_only_then(server: ServerHandle) -> None:
    """The threshold rests on benchmarks/loop_lag_vs_error.py; a loop blocked 20 ms every 50 ms delays the stamps by about
    as much and warns; the page's old false alarm (p99 8.4 ms on a 10-request run) does not."""
    import asyncio

    from streaming.bench.runner import LOOP_LAG_WARN_MS, loop_lag_warning

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from loop_lag_vs_error import run as lag_run

    short = [0.0004] * 19 + [0.0084]  # 0.2 s of a short run, one slow tick: p99 8.4 ms
    assert loop_lag_warning(short) is None
    calm = [0.0005] * 990 + [0.008] * 10
    assert loop_lag_warning(calm) is None
    sustained = [0.0005] * 900 + [0.02] * 100
    assert "p99 20.0 ms > 10 ms" in (loop_lag_warning(sustained) or "")
    assert "median 15.0 ms" in (loop_lag_warning([0.015] * 20) or "")

    recs, lags = asyncio.run(lag_run(server.url, 4, 24, 20.0))  # the loop blocked 20 ms every 50 ms
    assert loop_lag_warning(lags) is not None and np.percentile(lags, 99) * 1000 > LOOP_LAG_WARN_MS
    late = []
    with http_client(timeout=30) as h:
        for r in recs:
            tr = h.get(f"{server.url}/debug/truth/{r.response_id}").json()
            late += [r.t0_monotonic + c - s for c, s in zip(r.chunk_times_s, tr["chunk_times"])]
    late_ms = np.asarray(late) * 1000
    assert np.percentile(late_ms, 99) > 5.0  # the lag really touched the timestamps ...
    assert late_ms.max() < max(lags) * 1000 + 15.0  # ... by about the lag, not more
