"""Benchmark: configure the matrix, start it, watch it fill in, stop it. Results go to the results database."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from streaming import store
from streaming.analysis.failures import error_summary
from streaming.analysis.tables import format_summary, summarize
from streaming.bench.job import BenchJob
from streaming.bench.matrix import BenchConfig, parse_temperatures
from streaming.bench.progress import BenchPoint
from streaming.core.config import BUILTINS, load_deployments
from streaming.errors import ConfigError, StreamingError

ROOT = Path(__file__).resolve().parent.parent
METRICS_PAGE = "pages/metrics.py"
JOB = "bench_job"


def deployments() -> tuple[list, str | None]:
    try:
        return load_deployments(os.environ.get("STREAMING_DEPLOYMENTS") or None), None
    except ConfigError as e:
        return list(BUILTINS), str(e)


def scatter(points: list[BenchPoint]) -> go.Figure:
    """Each finished request: when it finished (x) and how long its reader waited (y)."""
    fig = go.Figure()
    df = pd.DataFrame(points)
    if len(df):
        df = df[df["perceived_wait_s"].notna()]
        for cell, g in df.groupby("cell", sort=True):
            fig.add_scatter(x=g["t_s"], y=g["perceived_wait_s"] * 1000, mode="markers", name=str(cell),
                            marker={"symbol": "circle" if g["mode"].iloc[0] == "stream" else "square", "size": 7})  # fmt: skip
    fig.update_layout(title="TTFT (streaming) and full wait (non-streaming) of each request", xaxis_title="seconds since start",
                      yaxis_title="ms", height=380, margin={"t": 50, "b": 40}, legend={"orientation": "h", "y": -0.25})  # fmt: skip
    return fig


def metrics_link() -> None:
    if (ROOT / METRICS_PAGE).is_file():
        try:
            st.page_link(METRICS_PAGE, label="Open its metrics", icon=":material/monitoring:")
        except Exception:  # outside st.navigation (e.g. run alone) the page may not be registered
            st.caption("See its charts on the Metrics page.")


st.title(":material/speed: Benchmark")
st.caption("Runs deployments × temperatures × streaming/non-streaming × prompts × repeats, in a shuffled, interleaved order. "
           "Every request is saved as it finishes.")  # fmt: skip
db_path = store.default_db_path()
deps, dep_error = deployments()
if dep_error:
    st.warning(f"The deployments file could not be read, so only the built-in deployments are offered: {dep_error}")
by_name = {d.name: d for d in deps}
job: BenchJob | None = st.session_state.get(JOB)
running = job is not None and not job.done

with st.form("matrix"):
    chosen = st.multiselect("Deployments", list(by_name), default=["sim-fast"] if "sim-fast" in by_name else list(by_name)[:1],
                            format_func=lambda n: by_name[n].label, key="deployments")  # fmt: skip
    c1, c2, c3 = st.columns(3)
    temps = c1.text_input("Temperatures", "default", help="comma-separated, e.g. 0, 0.7, 1.0; 'default' sends none", key="temperatures")
    mode = c2.radio("Mode", ["both", "stream", "non-stream"], horizontal=True, key="mode", help="both: the same prompts streamed and not")
    prompt_set = c3.selectbox("Prompts (built-in)", ["short", "medium", "long", "mixed"], key="prompt_set")
    c4, c5, c6, c7, c8 = st.columns(5)
    repeats = c4.number_input("Repeats", 1, 100, 1, key="repeats")
    requests = c5.number_input("Total requests (0: all prompts × repeats)", 0, 100_000, 0, key="requests")
    concurrency = c6.number_input("Concurrency", 1, 1000, 8, key="concurrency")
    rate = c7.number_input("Rate, req/s (0: closed loop)", 0.0, 1000.0, 0.0, key="rate")
    max_tokens = c8.number_input("Max tokens", 1, 4096, 128, key="max_tokens")
    warmup = st.number_input("Warmup requests per deployment (stored apart)", 0, 20, 1, key="warmup")
    c9, c10 = st.columns(2)
    apis = c9.multiselect("APIs (empty: each deployment's)", ["chat", "responses", "completions"], key="apis", help="A matrix dimension")
    efforts = c10.multiselect("Reasoning efforts (empty: each deployment's)", ["minimal", "low", "medium", "high"], key="efforts",
                              help="A matrix dimension, for reasoning deployments")  # fmt: skip
    start = st.form_submit_button("Start", type="primary", disabled=running)

if start and not running:
    try:
        cfg = BenchConfig(deployments=list(chosen), temperatures=parse_temperatures(temps), mode=mode, prompt_set=prompt_set,
                          repeats=int(repeats), requests=int(requests) or None, concurrency=int(concurrency),
                          rate=float(rate) or None, max_tokens=int(max_tokens), warmup=int(warmup),
                          deployments_file=os.environ.get("STREAMING_DEPLOYMENTS") or None, notes="from the benchmark page",
                          apis=list(apis), reasoning_efforts=list(efforts) or [None])  # fmt: skip
        cfg.validate()
        job = st.session_state[JOB] = BenchJob(cfg, db_path).start()
        running = True
    except StreamingError as e:
        st.error(str(e).splitlines()[0])

if running and st.button("Stop", key="stop", disabled=job is None or job.stopping):
    job.stop()  # type: ignore[union-attr]
    st.info("Stopping: requests in flight are cancelled; the partial run is kept and marked stopped.")


@st.fragment(run_every=0.5 if running else None)
def live() -> None:
    job: BenchJob | None = st.session_state.get(JOB)
    if job is None:
        st.info(f"Pick the matrix and press Start. Results are saved to `{db_path}`.")
        return
    p = job.progress
    if job.error:
        st.error(job.error)
    if p is None:
        if not job.done:
            st.progress(0.0, text="Starting (the built-in server and warmup requests)…")
        return
    st.progress(p.done / p.total if p.total else 1.0, text=f"{p.done}/{p.total} requests · {p.phase}")
    m1, m2, m3, m4 = st.columns(4)
    m1.metric("Done", f"{p.done}/{p.total}")
    m2.metric("Errors", p.errors)
    m3.metric("Elapsed", f"{p.elapsed_s:.1f} s")
    m4.metric("Run", p.run_id)
    if p.cells:
        st.dataframe(pd.DataFrame([{"cell": k, "done": v.done, "errors": v.errors,
                                    "p50 wait (ms)": None if v.p50_wait_s is None else round(v.p50_wait_s * 1000)}
                                   for k, v in sorted(p.cells.items())]), hide_index=True)  # fmt: skip
    st.plotly_chart(scatter(list(p.points)), key="live_scatter")
    for w in p.warnings:
        st.warning(w)
    if job.done:
        st.success(f"Run {p.run_id} {p.phase}: {p.done} requests, {p.errors} errors.")
        try:
            st.code(format_summary(summarize(store.load_requests(db_path, [p.run_id], timelines=False))), language=None)
            for line in error_summary(store.load_requests(db_path, [p.run_id], timelines=False)):
                st.error(line)  # one sentence per kind of failure, with a request id
        except Exception as e:
            st.error(f"The summary could not be read from the results database: {type(e).__name__}.")
        metrics_link()
        if not st.session_state.get("bench_announced") == p.run_id:
            st.session_state["bench_announced"] = p.run_id
            st.rerun()  # a full rerun re-enables Start and stops the polling


live()
