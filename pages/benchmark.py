"""Benchmark: configure the matrix, start it, watch it fill in, stop it. Results go to the results database."""

from __future__ import annotations

# ruff: noqa: E402 (the hand-over runs before the page's imports)

import streamlit as st

from ui.nav import hand_over

hand_over()  # opened by its URL before app.py ran: rerun under app.py's navigation before any slow import
st.title(":material/speed: Benchmark")  # and the title before them too: a fresh process takes seconds over them

import os
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from streaming import store
from streaming.analysis.failures import error_summary
from streaming.analysis.summary_view import summary_table
from streaming.analysis.display import MISSING
from streaming.analysis.tables import summarize
from streaming.analysis.wording import plural
from streaming.bench.form import BENCH_FIELDS, form_problem
from streaming.bench.guard import needs_confirmation
from streaming.bench.job import BenchJob
from streaming.bench.matrix import BenchConfig
from streaming.bench.settings import parse_temperatures
from streaming.bench.preview import preview
from streaming.bench.progress import BenchPoint
from streaming.core.config import BUILTINS
from streaming.store.recordings import load_labelled
from streaming.errors import ConfigError, StreamingError
from ui import gate

ROOT = Path(__file__).resolve().parent.parent
METRICS_PAGE = "pages/metrics.py"
JOB = "bench_job"
PENDING = "bench_pending"  # (config, estimate) waiting for the cost guard's confirmation
FORM_KEYS = ("deployments", "temperatures", "mode", "prompt_set", "repeats", "requests", "concurrency", "rate", "max_tokens", "warmup", "apis", "efforts")


def kept(key: str, default: object) -> object:
    """A widget's value from the last visit: Streamlit forgets a widget's state when its page is left, this copy stays."""
    return st.session_state.get(f"_bench_{key}", default)


def deployments() -> tuple[list, str | None]:
    try:
        return load_labelled(os.environ.get("STREAMING_DEPLOYMENTS") or None), None
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


gate.page_panel()
st.caption("Runs deployments × temperatures × streaming/non-streaming × prompts × repeats, in a shuffled, interleaved order. "
           "Every request is saved as it finishes.")  # fmt: skip
db_path = store.default_db_path()
deps, dep_error = deployments()
if dep_error:
    st.warning(f"The deployments file could not be read, so only the built-in deployments are offered: {dep_error}")
by_name = {d.name: d for d in deps}
job: BenchJob | None = st.session_state.get(JOB)
running = job is not None and not job.done

modes = ["both", "stream", "non-stream"]
API_CHOICES = ["chat", "responses", "completions"]
EFFORT_CHOICES = ["minimal", "low", "medium", "high"]
prompt_sets = ["short", "medium", "long", "mixed", "conversations"]
with st.container(border=True):  # not a form: the preview below follows every change
    default_deps = [n for n in kept("deployments", ["sim-fast"] if "sim-fast" in by_name else list(by_name)[:1]) if n in by_name]  # type: ignore[union-attr]
    chosen = st.multiselect("Deployments", list(by_name), default=default_deps, format_func=lambda n: by_name[n].label, key="deployments")
    c1, c2, c3 = st.columns(3)
    temps = c1.text_input("Temperatures", kept("temperatures", "default"), help="comma-separated, e.g. 0, 0.7, 1.0; 'default' sends none", key="temperatures")  # type: ignore[arg-type]
    mode = c2.radio("Mode", modes, index=modes.index(kept("mode", "both")), horizontal=True, key="mode", help="both: the same prompts streamed and not")  # type: ignore[arg-type]
    prompt_set = c3.selectbox("Prompts (built-in)", prompt_sets, index=prompt_sets.index(kept("prompt_set", "short")), key="prompt_set")  # type: ignore[arg-type]
    c4, c5, c6, c7, c8 = st.columns(5)
    # No min/max on the widgets: Streamlit would keep the last valid value and run it; form_problem says why instead.
    repeats = c4.number_input("Repeats", value=kept("repeats", 1), key="repeats")  # type: ignore[arg-type]
    requests = c5.number_input("Total requests (0: all prompts × repeats)", value=kept("requests", 0), key="requests")  # type: ignore[arg-type]
    concurrency = c6.number_input("Concurrency", value=kept("concurrency", 8), key="concurrency")  # type: ignore[arg-type]
    rate = c7.number_input("Rate, req/s (0: closed loop)", value=kept("rate", 0.0), key="rate")  # type: ignore[arg-type]
    max_tokens = c8.number_input("Max tokens", value=kept("max_tokens", 128), key="max_tokens")  # type: ignore[arg-type]
    warmup = st.number_input("Warmup requests per deployment (stored apart)", value=kept("warmup", 1), key="warmup")  # type: ignore[arg-type]
    c9, c10 = st.columns(2)
    apis = c9.multiselect("APIs (empty: each deployment's)", API_CHOICES, default=[a for a in kept("apis", []) if a in API_CHOICES],  # type: ignore[union-attr]
                          key="apis", help="A matrix dimension")  # fmt: skip
    efforts = c10.multiselect("Reasoning efforts (empty: each deployment's)", EFFORT_CHOICES, key="efforts",
                              default=[e for e in kept("efforts", []) if e in EFFORT_CHOICES],  # type: ignore[union-attr]
                              help="A matrix dimension, for reasoning deployments")  # fmt: skip
    for k in FORM_KEYS:
        st.session_state[f"_bench_{k}"] = st.session_state[k]
    cfg = None
    try:
        bad = form_problem({k: st.session_state[k] for k in BENCH_FIELDS})
        if bad:
            raise ConfigError(bad)
        cfg = BenchConfig(deployments=list(chosen), temperatures=parse_temperatures(temps, "Temperatures"), mode=mode, prompt_set=prompt_set,
                          repeats=int(repeats), requests=int(requests) or None, concurrency=int(concurrency),
                          rate=float(rate) or None, max_tokens=int(max_tokens), warmup=int(warmup),
                          deployments_file=None if dep_error else os.environ.get("STREAMING_DEPLOYMENTS") or None, notes="from the benchmark page",
                          apis=list(apis), reasoning_efforts=list(efforts) or [None])  # fmt: skip
        cfg.validate()
        st.caption(f":material/schedule: {preview(cfg).sentence()}")
        problem = None
    except StreamingError as e:
        problem = str(e).splitlines()[0]
        st.error(problem)  # at once, not only after Start
        st.caption(":material/block: Nothing will run until this is fixed.")
    with st.form("start", border=False, enter_to_submit=False):
        start = st.form_submit_button("Start", type="primary", disabled=running)

if start and problem is not None:
    st.warning("Not started: fix the field named above first.")
if start and not running and cfg is not None and problem is None:
    refused = gate.bench_refusal(chosen, deps)
    if refused:
        st.error(refused)
    else:  # the cost guard estimates before anything is sent
        st.session_state[PENDING] = (cfg, needs_confirmation(cfg, gate.budget_tokens()))
if st.session_state.get(PENDING) and not running:
    cfg, est = st.session_state[PENDING]
    confirmed = True if est is None else gate.confirm_cost(est, gate.budget_tokens())
    if confirmed is not None:
        st.session_state.pop(PENDING)
    if confirmed:
        st.session_state[JOB] = BenchJob(cfg, db_path).start()
        st.rerun()  # draw the page again as running: Start (above) was drawn enabled before the job existed
    elif confirmed is False:
        st.rerun()  # cancelled: the estimate goes away

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
    st.progress(p.done / p.total if p.total else 1.0, text=f"{p.done}/{plural(p.total, 'request')} · {p.phase}")
    m1, m2, m3, m4 = st.columns([1, 1, 1, 2])  # the run id whole
    m1.metric("Done", f"{p.done}/{p.total}")
    m2.metric("Errors", p.errors, help="Failed requests, whatever failed (a cut answer too); a request stopped by you is not one.")
    m3.metric("Elapsed", f"{p.elapsed_s:.1f} s")
    with m4:
        st.caption("Run id (copy)")
        st.code(p.run_id, language=None)  # whole and copyable: a metric cuts it
    if p.cells:
        st.dataframe(pd.DataFrame([{"cell": k, "done": v.done, "errors": v.errors,
                                    "p50 wait (ms)": None if v.p50_wait_s is None else round(v.p50_wait_s * 1000)}
                                   for k, v in sorted(p.cells.items())]), hide_index=True, placeholder=MISSING)  # fmt: skip
    if any(pt.perceived_wait_s is not None for pt in p.points):
        st.plotly_chart(scatter(list(p.points)), key="live_scatter")
    else:
        st.caption("No request has finished yet." if not job.done else "No request finished in this run: nothing to plot.")
    for w in p.warnings:
        st.warning(w)
    if job.done:
        if st.session_state.get("bench_announced") != p.run_id:
            st.session_state["bench_announced"] = p.run_id
            st.rerun()  # a full rerun (not this fragment) shows the end once, re-enables Start and stops the polling
        ended = f"Run {p.run_id} {p.phase}: {plural(p.done, 'request')}, {plural(p.errors, 'error')}."
        if p.phase == "finished":
            st.success(ended)
        elif p.phase == "stopped":
            st.warning(ended + " Stopped before the end: the requests that finished are kept.", icon=":material/stop_circle:")
        else:
            st.error(ended)
        try:
            table = summary_table(summarize(store.load_requests(db_path, [p.run_id], timelines=False)))
            st.dataframe(table, hide_index=True, key="summary", placeholder=MISSING)
            st.caption("Sort by clicking a column. Times in ms over successful requests; stopped: cancelled by Stop, not errors; "
                       f"p95 ≈ max: too few requests for a p95 (it is the sample's maximum); {MISSING}: no value.")  # fmt: skip
            for line in error_summary(store.load_requests(db_path, [p.run_id], timelines=False)):
                st.error(line)  # one sentence per kind of failure, with a request id
        except Exception as e:
            st.error(f"The summary could not be read from the results database: {type(e).__name__}.")
        metrics_link()


live()
