"""Metrics: latency across deployments, temperatures and streaming vs non-streaming, with honest statistics."""

from __future__ import annotations

# ruff: noqa: E402 (the hand-over runs before the page's imports)

import streamlit as st

from ui.nav import hand_over

hand_over()  # opened by its URL before app.py ran: rerun under app.py's navigation before any slow import
st.title(":material/monitoring: Metrics")  # and the title before them too: a fresh process takes seconds over them

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson
import pandas as pd

from streaming import store
from streaming.analysis import charts, over_run, reasoning, replays
from streaming.analysis.arena_stats import compare_deployments, pairs_sentence
from streaming.analysis.compare import (
    MIN_PAIRS_FOR_CI,
    compare,
    paired_compare,
    paired_frame,
)
from streaming.analysis.tables import (
    format_percentile_table,
    headlines,
    metric_samples,
    percentile_table,
)
from streaming.analysis.wording import (
    comparison_sentence,
    paired_sentence,
    ttft_n_caption,
    why_no_values,
)
from streaming.errors import StreamingError
from streaming.analysis.capacity import GOODPUT_COLUMNS, SPAN_COLUMN, THROUGHPUT_COLUMNS, parse_slos
from streaming.analysis.grouping import GROUP_KEYS
from streaming.analysis.knee import knee_chart
from streaming.analysis.tables import summarize
from streaming.analysis.estimators import Estimate
from streaming.analysis.display import MISSING, TABLE_HELP, ci_caption, effort_table, stalls_table, throughput_table
from streaming.analysis.wording import STOPPED_HELP, plural
from streaming.core.record import outcome_counts
from streaming.store.sweeps import run_configs
from ui import gate

QUICK_DEPLOYMENTS = ["sim-fast", "sim-slow", "sim-turbo"]
QUICK_PROMPTS = ["Say hello in one sentence.", "Name three colours."]
METRIC_CHOICES = {"TTFT": "ttft_s", "perceived wait": "perceived_wait_s", "end-to-end": "e2e_s", "tokens/s": "tokens_per_s"}


# -- data (cached by run id and size: a growing run, e.g. today's demo, reloads) ---------------------
@st.cache_data(show_spinner=False, ttl=10)
def runs_table(db: str) -> pd.DataFrame:
    return store.list_runs(db)


@st.cache_data(show_spinner="Loading requests…", max_entries=8)
def raw_requests(db: str, key: tuple[tuple[str, int], ...]) -> pd.DataFrame:
    return store.load_requests(db, [r for r, _ in key])


@st.cache_data(show_spinner=False, max_entries=8)
def prepared(db: str, key: tuple[tuple[str, int], ...]) -> pd.DataFrame:
    return charts.prepare(raw_requests(db, key))


@st.cache_data(show_spinner=False, max_entries=4)
def csv_bytes(_df: pd.DataFrame, db: str, rows: str) -> bytes:
    """CSV of the selected rows; cached by (database, ``selection_key`` of the rows): any filter that changes the rows changes it."""
    flat = _df.copy()
    for c in ("chunk_times_s", "chunk_chars", "itl_s", "ratelimit", "content_filter", "attempts"):
        if c in flat.columns:
            flat[c] = [orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY).decode() if v is not None else "" for v in flat[c]]
    return flat.to_csv(index=False).encode()


@st.cache_data(show_spinner="Loading the sweep…", max_entries=4, ttl=10)
def sweep_result(db: str, sweep_id: str) -> object:
    from streaming.bench.sweep import load_sweep

    return load_sweep(db, sweep_id)


@st.cache_data(show_spinner="Building the report…", max_entries=2)
def html_bytes(_df: pd.DataFrame, _runs: pd.DataFrame, db: str, rows: str, title: str, _server: object = None) -> bytes:
    """The shareable HTML report of the selected rows (the CLI's ``report --format html``), built only when downloaded."""
    from streaming.analysis.report import html_report

    return html_report(_df, _runs, title, server=_server).encode()


def quick_benchmark(db: str) -> str:
    """A small run on the built-in simulated deployments: 3 deployments × 2 temperatures × both modes × 2 prompts × 2."""
    from streaming.bench.matrix import BenchConfig
    from streaming.bench.runner import run_benchmark

    cfg = BenchConfig(deployments=list(QUICK_DEPLOYMENTS), temperatures=[0.0, 1.0], mode="both", prompts=list(QUICK_PROMPTS), repeats=2,
                      max_tokens=16, warmup=0, concurrency=8, notes="quick benchmark from the metrics page")  # fmt: skip
    with store.Store(db) as s:
        return run_benchmark(cfg, s)


@st.cache_data(show_spinner=False, max_entries=32)
def of_rows(what: str, db: str, rows: str, _build: Callable[[], Any]) -> Any:
    """``_build()`` for the selected rows (keyed by ``what``, the database and ``rows``, their ``selection_key``): a rerun that
    keeps the selection (the stall threshold, the compare pickers) reuses the tables instead of recomputing them."""
    return _build()


def show_ci(col: Any, e: Estimate, fmt: Callable[[float], str]) -> None:
    """A headline's CI caption; with no interval (n < 2), "—" and the reason as its help."""
    text, why = ci_caption(e, fmt)
    col.caption(text, help=why)


def fmt_s(v: float) -> str:
    return "n/a" if v is None or np.isnan(v) else (f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.2f} s")


gate.page_panel()
db = store.default_db_path()
try:
    runs = runs_table(db)
except Exception as e:  # an unreadable file: say so in one sentence
    st.error(f"Cannot read the results database {db}: {e.__class__.__name__}.")
    st.stop()

if runs.empty or int(runs["n_requests"].sum()) == 0:
    st.info(f"No results yet in `{db}`. Run a quick benchmark on the built-in simulated deployments ({', '.join(QUICK_DEPLOYMENTS)}; "
            "about 10 seconds), use the Benchmark page, or run `python -m streaming bench`.")  # fmt: skip
    if st.button("Run a quick benchmark", type="primary", key="quick"):
        try:
            with st.spinner("Running the quick benchmark…"):
                quick_benchmark(db)
        except StreamingError as e:
            st.error(f"The quick benchmark could not run: {e}")
        else:
            runs_table.clear()
            st.rerun()
    st.stop()

# -- select data ------------------------------------------------------------------------------------
runs = runs[runs["n_requests"] > 0]
label = {r.run_id: f"{r.run_id} · {r.tag} · {plural(int(r.n_requests), 'request')} · {r.status}" for r in runs.itertuples()}
bench_runs = runs[runs["tag"] == "bench"]["run_id"].tolist()
default = bench_runs[:1] or runs["run_id"].tolist()[:1]
with st.sidebar:
    st.subheader("Data")
    picked = st.multiselect("Runs (demo turns included)", runs["run_id"].tolist(), default=default, format_func=label.get, key="runs")
    if st.button("Reload", help="Re-read the database (new requests since the page loaded)"):
        runs_table.clear()
        st.rerun()
if not picked:
    st.info("Pick at least one run in the sidebar.")
    st.stop()
key = tuple((r, int(runs.loc[runs["run_id"] == r, "n_requests"].iloc[0])) for r in sorted(picked))
df = prepared(db, key)

with st.sidebar:
    st.subheader("Filters")
    measured = replays.default_choice(df)
    if replays.is_replay(df).any():  # replays repeat recorded timings: apart from live measurements unless asked
        measured = st.radio("Measurements", replays.CHOICES, index=replays.CHOICES.index(measured), key="f_measured")
keep = replays.choose(df, measured)  # the filters below start from these rows; ``mask`` indexes the whole frame
temps = df["temperature"].fillna(-1.0)
with st.sidebar:
    deps = st.multiselect("Deployment", sorted(df.loc[keep, "deployment"].dropna().astype(str).unique()), key="f_dep")
    tvals = sorted(temps[keep].unique())
    tsel = st.multiselect("Temperature", tvals, format_func=lambda t: "default" if t < 0 else f"{t:g}", key="f_temp")
    modes = st.multiselect("Mode", ["stream", "non-stream"], key="f_mode")
    sizes = st.multiselect("Prompt size", sorted(df.loc[keep, "prompt_size"].dropna().astype(str).unique()), key="f_size")
    api_col = df["api"].fillna("chat").astype(str) if "api" in df.columns else pd.Series("chat", index=df.index)
    effort_col = df["reasoning_effort"].fillna("default").astype(str) if "reasoning_effort" in df.columns else pd.Series("default", index=df.index)
    apis = st.multiselect("API", sorted(api_col[keep].unique()), key="f_api")
    efforts = st.multiselect("Reasoning effort", sorted(effort_col[keep].unique()), key="f_effort")
    stall_ms = st.number_input("Stall threshold (ms)", min_value=10, max_value=60_000, value=500, step=50, key="stall")
mask = keep.copy()
if deps:
    mask &= df["deployment"].isin(deps).to_numpy()
if tsel:
    mask &= temps.isin(tsel).to_numpy()
if modes:
    mask &= df["mode"].isin(modes).to_numpy()
if sizes:
    mask &= df["prompt_size"].isin(sizes).to_numpy()
if apis:
    mask &= api_col.isin(apis).to_numpy()
if efforts:
    mask &= effort_col.isin(efforts).to_numpy()
view = df[mask]
_, n_fail, n_stop = outcome_counts(view["status"])  # stopped by the user: counted apart, never as failed
st.caption(f"{plural(len(view), 'request')} selected ({n_fail} failed" + (f", {n_stop} stopped by the user" if n_stop else "") +
           "; TTFT counts every request that reached a first token, "
           "end-to-end and tokens/s completed ones). "
           "Simulated deployments are labelled (simulated)" + (", replays (replay)." if replays.is_replay(view).any() else "."))  # fmt: skip
if hidden := replays.hidden_sentence(df, measured):
    st.caption(hidden)
if view.empty:
    st.warning("No request matches these filters.")
    st.stop()
selected = raw_requests(db, key)[mask]  # the full columns of the rows in `view` (the prepared frame keeps the chart columns)
rows_key = store.selection_key(selected)  # the selected rows themselves: every filter (API, effort, live/replay, …) is in it

# -- headline ---------------------------------------------------------------------------------------
st.subheader("Headline")
labels = dict(zip(view["deployment"].astype(str), view["_label"].astype(str)))
replayed = replays.replay_labels(selected) if replays.is_replay(view).any() else {}
heads = of_rows("headlines", db, rows_key, lambda: headlines(view))
for h in heads:
    with st.container(border=True):
        name, a, b, c = st.columns([2, 3, 3, 3])
        name.markdown(f"**{h.label(labels)}**")
        name.caption(h.counts(), help=STOPPED_HELP if h.n_stopped else None)
        if h.deployment in replayed:
            name.caption(replayed[h.deployment][0].upper() + replayed[h.deployment][1:])
        a.metric("median TTFT", fmt_s(h.ttft.value) if h.ttft.n else "n/a")
        if h.ttft.n:
            show_ci(a, h.ttft, fmt_s)
        else:
            a.caption(ttft_n_caption(h.ttft.n, h.n_streamed))
        b.metric("median tokens/s", f"{h.tokens_per_s.value:.1f}" if h.tokens_per_s.n else "n/a")
        if h.tokens_per_s.n:
            show_ci(b, h.tokens_per_s, lambda v: f"{v:.1f}")
        else:
            b.caption("n=0")
        r = h.wait_ratio
        c.metric("non-stream / stream wait", f"{r.value:.1f}×" if r else "n/a")
        c.caption(("needs both modes on the same prompts" if not r else f"no CI: n={plural(r.n, 'prompt')} (needs {MIN_PAIRS_FOR_CI})" if np.isnan(r.lo)
                   else f"95 % CI {r.lo:.1f}–{r.hi:.1f}× · n={r.n} prompts"))  # fmt: skip
st.markdown(paired_sentence(of_rows("paired", db, rows_key, lambda: paired_compare(paired_frame(view))), modes))

# -- throughput, goodput and capacity (README: "Capacity") ------------------------------------------
configs = run_configs(db, sorted(picked))
slos = parse_slos(sorted({t for c in configs.values() for t in (c.get("slos") or [])}))
st.subheader("Throughput")
st.caption("Successful requests, output and input tokens per second of the span: each run from its first send to its last end over "
           "all its workers, on one wall clock, the gaps between runs left out (the span column says what each row covers)"
           + (f"; goodput: the same over the requests meeting every SLO ({', '.join(x.text for x in slos)})." if slos else "."))  # fmt: skip
tput = of_rows(f"throughput {slos}", db, rows_key, lambda: summarize(selected, slos))
tcols = [*(k for k in GROUP_KEYS if k in tput.columns), "n", SPAN_COLUMN, *THROUGHPUT_COLUMNS, *(GOODPUT_COLUMNS if slos else ())]
st.dataframe(throughput_table(tput, tcols), hide_index=True, key="throughput", placeholder=MISSING)
sweep_ids = sorted({str(c["sweep_id"]) for c in configs.values() if c.get("sweep_id")})
if sweep_ids:
    sweep = sweep_result(db, st.selectbox("Sweep", sweep_ids, key="sweep") if len(sweep_ids) > 1 else sweep_ids[0])
    st.subheader("Capacity")
    with st.container(border=True, key="capacity_card"):
        edge = sweep.edge
        unit = "concurrent streams" if sweep.by == "concurrency" else "requests/s"
        st.metric("capacity", f"{edge.load:g} {unit}" if edge else "none within the SLO")
        st.caption(f"{sweep.headline()} · {sweep.verdict['sentence']} · saturated at {'—' if sweep.saturated_at is None else f'{sweep.saturated_at:g}'}"
                   f" · client-limited: {'yes' if sweep.client_limited else 'no'}")  # fmt: skip
    st.plotly_chart(knee_chart(sweep), key="c_knee")
if "turn_index" in selected.columns and selected["turn_index"].notna().any():  # multi-turn conversations in the selection
    from streaming.analysis.context import ttft_vs_input_tokens

    st.subheader("Conversations")
    st.plotly_chart(ttft_vs_input_tokens(selected), key="c_context")

# -- server side (README: "Server side"): the servers' scraped metrics, queue-time split, rate limits -----
from streaming.analysis.server_charts import CAPTION, server_side
from streaming.store.samples import load_samples

side = server_side(load_samples(db, sorted(picked), summary=True), selected, configs,
                   [w for ws in runs.loc[runs["run_id"].isin(picked), "warnings"] for w in ws])  # fmt: skip
if side.shown:
    st.subheader("Server side")
    st.caption(CAPTION)
    for w in side.warnings:
        st.warning(w)
    for sentence in side.sentences:
        st.markdown(sentence)
    for name, fig in side.figures.items():
        st.plotly_chart(fig, key=f"c_server_{name}")

# -- charts: only the open tab's are built; a tab change (or a timeline pick) reruns this fragment, not the page ------
CHART_TABS = {"TTFT": ("ttft_box", "ttft_ecdf"), "e2e & tokens/s": ("e2e_box", "tokens_per_s_box"), "Temperature": ("temperature",),
              "Stream vs non-stream": ("stream_vs_nonstream",), "Token timeline": (), "Chunks & ITL": ("chunks", "itl"), "Errors": ("errors",)}  # fmt: skip


@st.fragment
def chart_tabs(view: pd.DataFrame, stall_ms: int) -> None:
    tabs = dict(zip(CHART_TABS, st.tabs(list(CHART_TABS), key="chart_tab", on_change="rerun")))
    shown = next((label for label, tab in tabs.items() if tab.open), "TTFT")
    figs = charts.default_figures(view, stall_s=stall_ms / 1000, names=CHART_TABS[shown])
    with tabs[shown]:
        for name in CHART_TABS[shown]:
            st.plotly_chart(figs[name], key=f"c_{name}")
        if shown == "Token timeline":
            streamed = view[(view["mode"] == "stream") & (view["status"] == "ok")]
            ids = st.multiselect("Requests (response id)", streamed["response_id"].dropna().astype(str).tolist()[:500], max_selections=12,
                                 key="tl_ids", help="Empty: the first few streamed requests of each deployment")  # fmt: skip
            st.plotly_chart(charts.token_timeline(view, ids or None), key="c_timeline")
        elif shown == "Chunks & ITL":
            stalled = charts.stalls(view, stall_ms / 1000)
            st.caption(f"{plural(len(stalled), 'streamed request')} with a gap over {stall_ms} ms.")
            if len(stalled):
                st.dataframe(stalls_table(stalled), hide_index=True, key="stalls", placeholder=MISSING)


st.subheader("Charts")
chart_tabs(view, stall_ms)

# -- reasoning ----------------------------------------------------------------------------------------
if reasoning.has_reasoning(view):
    st.subheader("Latency across reasoning efforts")
    st.caption(reasoning.EFFORT_NOTE)
    etab = reasoning.effort_table(view)
    st.dataframe(effort_table(etab, reasoning.EFFORT_METRICS), hide_index=True, key="effort_table", placeholder=MISSING)
    metric_pick = st.radio("Chart", list(reasoning.EFFORT_METRICS), horizontal=True, key="effort_metric")
    st.plotly_chart(reasoning.effort_figure(etab, metric_pick), key="c_effort")
    st.plotly_chart(reasoning.breakdown_figure(reasoning.breakdown(view[view["status"] == "ok"])), key="c_breakdown")

# -- over the run -----------------------------------------------------------------------------------
st.subheader("Over the run")
st.caption("Drift and warm-up: each successful request's TTFT (streamed) and e2e against seconds since the first request in this view. "
           "Aggregate throughput over the same span as the Throughput table (runs' windows on one wall clock, gaps left out): "
           "requests/s counts every request, output tokens/s the successful ones' output tokens.")  # fmt: skip
st.plotly_chart(over_run.latency_over_run(view), key="c_over_run")
st.dataframe(over_run.throughput_frame(of_rows("over the run", db, rows_key, lambda: over_run.aggregate_throughput(view))), hide_index=True, key="over_run_throughput", placeholder=MISSING)

# -- percentile table -------------------------------------------------------------------------------
st.subheader("Percentiles")
st.caption("p50/p90/p95/p99 per (deployment, temperature, mode; API and reasoning effort when they vary), times in ms: value [95 % bootstrap CI] and n per metric "
           "(TTFT: every request with a first token; the rest: completed requests). "
           "Percentiles use numpy's linear method; ⚑ ≈max marks a percentile the sample cannot support "
           "(fewer than one request expected above it, e.g. p99 with n < 100). " + TABLE_HELP)  # fmt: skip
st.dataframe(format_percentile_table(of_rows("percentiles", db, rows_key, lambda: percentile_table(view))), hide_index=True, key="ptable", placeholder=MISSING)

# -- compare ----------------------------------------------------------------------------------------
st.subheader("Compare")
by = st.radio("Compare", ["deployments", "runs", "cells (deployment · temperature · mode)"], horizontal=True, key="cmp_by")
if by == "runs":
    group = view["run_id"].astype(str)
elif by == "deployments":
    group = view["_label"].astype(str)
else:
    group = view["_label"].astype(str) + " · T=" + temps[mask].map(lambda t: "default" if t < 0 else f"{t:g}") + " · " + view["mode"].astype(str)
options = sorted(group.unique())
metric_name = st.selectbox("Metric", list(METRIC_CHOICES), key="cmp_metric")
if len(options) < 2:
    st.caption("Select data with at least two groups to compare.")
else:
    c1, c2 = st.columns(2)
    a = c1.selectbox("A", options, index=0, key="cmp_a")
    b = c2.selectbox("B", options, index=1, key="cmp_b")
    metric = METRIC_CHOICES[metric_name]
    rows_a, rows_b = view[(group == a).to_numpy()], view[(group == b).to_numpy()]
    (xa, pa), (xb, pb) = metric_samples(rows_a, metric), metric_samples(rows_b, metric)  # each over the statuses that count for it
    cmp = compare(xa, xb, a, b, prompts_a=pa, prompts_b=pb)  # tested on prompts when they repeat
    st.markdown(comparison_sentence(cmp, f"median {metric_name}", seconds=metric != "tokens_per_s",
                                    why_a=why_no_values(rows_a, metric), why_b=why_no_values(rows_b, metric)))  # fmt: skip
    if by == "deployments" and metric != "tokens_per_s":  # the arena asked both the same prompts: pair them
        name_of = {v: k for k, v in labels.items()}
        paired = pairs_sentence(compare_deployments(view, name_of.get(a, a), name_of.get(b, b), metric), metric_name)
        if paired:
            st.markdown(paired)

# -- export -----------------------------------------------------------------------------------------
st.subheader("Export")
st.download_button("Download the filtered rows (CSV)", csv_bytes(selected, db, rows_key), file_name="requests.csv", mime="text/csv", key="csv")
st.download_button("Download the HTML report", lambda: html_bytes(view, runs[runs["run_id"].isin(picked)], db, rows_key,
                                                                  "Streaming LLM Lab report: " + ", ".join(r for r, _ in key), side),
                   file_name="streaming-report.html", mime="text/html", key="html", on_click="ignore", icon=":material/download:")  # fmt: skip
st.caption("The shareable HTML report (self-contained, opens offline): `python -m streaming report RUN_ID --format html --out report.html`.")
