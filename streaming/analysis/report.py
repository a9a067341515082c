"""The shareable report: request rows in, one self-contained HTML page out (plotly.js inlined; opens with no network).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from streaming.analysis import charts as C
from streaming.analysis import reasoning as R
from streaming.analysis.compare import (
    MIN_PAIRS_FOR_CI,
    compare,
    paired_compare,
    paired_frame,
)
from streaming.analysis.estimators import MIN_N_FOR_CI, Estimate
from streaming.analysis.tables import (
    Headline,
    format_percentile_table,
    headlines,
    metric_samples,
    ok_rows,
    percentile_table,
)
from streaming.analysis.wording import comparison_sentence, paired_sentence, plural

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{margin-bottom:.2rem} .sub{color:#666;margin-top:0} table{border-collapse:collapse;margin:.5rem 0 1.5rem;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;white-space:nowrap} th{background:#f5f5f5}
.cards{display:flex;flex-wrap:wrap;gap:1rem;margin:1rem 0} .card{border:1px solid #ddd;border-radius:8px;padding:.8rem 1rem;min-width:260px}
.card h3{margin:.1rem 0 .5rem} .big{font-size:1.3rem;font-weight:600} .ci{color:#666;font-size:.85rem}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5rem .8rem;margin:1rem 0} .fig{margin:1rem 0 2rem}
"""


_NOTES = (
    "Percentiles use numpy's linear interpolation (Hyndman–Fan type 7); the brackets are 95 % percentile-bootstrap confidence "
    "intervals (1,000 resamples, seed 0). ⚑ ≈max marks a percentile the sample is too small to support (fewer than one request "
    "expected above it, e.g. p99 with n < 100): it is close to the maximum, not an estimate of the percentile. Latency statistics "
    "are per metric: TTFT over every request that reached a first token, the rest over completed requests (n per metric); "
    "failures are counted separately, and requests the user stopped apart from both. [—]: no CI (n < 2). Times are in ms. Perceived wait is TTFT when streaming and end-to-end time when not."
)


def _ms(v: float) -> str:
    return "n/a" if v is None or math.isnan(v) else (f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.2f} s")


def _card(h: Headline, label: str) -> str:
    def line(name: str, e: Estimate | None, f: type | None = None) -> str:
        if e is None or e.n == 0:
            return f"<div>{name}: <span class=big>n/a</span></div>"
        fmt = _ms if f is None else (lambda v: f"{v:.1f}")
        unit = "" if f is None else (" tok/s" if name == "median tokens/s" else "×")
        if math.isnan(e.lo):  # too few units for an interval (the paired ratio under 5 prompts, a median of one request)
            needs = MIN_PAIRS_FOR_CI if name == "non-stream / stream wait" else MIN_N_FOR_CI
            return f"<div>{name}: <span class=big>{fmt(e.value)}{unit}</span> <span class=ci>no CI, n={e.n} (needs {needs})</span></div>"
        return (f"<div>{name}: <span class=big>{fmt(e.value)}{unit}</span> "
                f"<span class=ci>95 % CI {fmt(e.lo)}–{fmt(e.hi)}{unit}, n={e.n}</span></div>")  # fmt: skip

    return (
        f"<div class=card><h3>{html.escape(label)}</h3>{line('median TTFT', h.ttft)}{line('median tokens/s', h.tokens_per_s, float)}"
        f"{line('non-stream / stream wait', h.wait_ratio, float)}<div class=ci>{h.counts()}</div></div>"
    )


def _table(df: pd.DataFrame) -> str:
    if df.empty:
        return "<p>No successful requests.</p>"
    return df.to_html(index=False, escape=True, border=0, na_rep="—")


def _capacity_parts(df: pd.DataFrame, slos: Sequence[Any], sweep: Any) -> list[str]:
    """The capacity card (a sweep), and the throughput table (requests/s, output and input tokens/s; goodput given SLOs)."""
    from streaming.analysis.capacity import GOODPUT_COLUMNS, SPAN_COLUMN, THROUGHPUT_COLUMNS, with_throughput
    from streaming.analysis.display import throughput_table
    from streaming.analysis.grouping import group_keys

    out = []
    if sweep is not None and sweep.steps:
        v = sweep.verdict
        out += ["<h2>Capacity</h2><div class=cards><div class=card id=capacity><h3>capacity</h3>",
                f"<div class=big>{html.escape(sweep.headline())}</div><div class=ci>{html.escape(v['sentence'])}; saturated at "
                f"{'—' if sweep.saturated_at is None else f'{sweep.saturated_at:g}'}; client-limited: {'yes' if sweep.client_limited else 'no'}</div></div></div>"]  # fmt: skip
    keys = group_keys(df)  # the keys of every other table: api and effort split rows where they vary
    s = with_throughput(df.groupby(keys, dropna=False, sort=True).size().reset_index(name="n"), df, keys, slos)
    cols = [*keys, "n", SPAN_COLUMN, *THROUGHPUT_COLUMNS, *(GOODPUT_COLUMNS if slos else ())]
    t = throughput_table(s, [c for c in cols if c in s.columns])  # the Metrics page's headers and rounding
    note = ("Throughput: successful requests (and their output / input tokens) per second of the span (each run from its first "
            "send to its last end over all its workers, on one wall clock; gaps between runs left out). Goodput: the same over the requests that met every SLO (" + ", ".join(x.text for x in slos) + ")." if slos else
            "Throughput: successful requests (and their output / input tokens) per second of the span (each run from its first send to its "
            "last end over all its workers, on one wall clock; gaps between runs left out).")  # fmt: skip
    return [*out, "<h2>Throughput</h2>", f"<p class=ci>{html.escape(note)}</p>", _table(t)]


def html_report(df: pd.DataFrame, runs_df: pd.DataFrame | None = None, title: str = "Streaming LLM Lab report",
                figures: dict[str, go.Figure] | None = None, slos: Sequence[Any] = (), sweep: Any = None, server: Any = None) -> str:  # fmt: skip
    """A complete HTML document with the headline, the comparison sentences, the percentile table and every chart;
    throughput (and goodput, given ``slos``); for a sweep (``analysis.sweep.SweepResult``) the capacity card and the knee chart;
    given ``server`` (``analysis.server_charts.ServerSide``), its "Server side" section."""
    parts = [f"<h1>{html.escape(title)}</h1>",
             f"<p class=sub>Generated {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} · {plural(len(df), 'request')}</p>"]  # fmt: skip
    if runs_df is not None and len(runs_df):
        cols = [c for c in ("run_id", "created_at", "finished_at", "status", "tag", "n_requests", "n_errors", "n_stopped", "notes") if c in runs_df.columns]
        parts += ["<h2>Runs</h2>", _table(runs_df[cols])]
    if "provider" in df.columns and df["provider"].isin(["simulated", "local"]).any():
        parts.append("<div class=note>Deployments marked <b>(simulated)</b> are the built-in simulator with a declared latency profile; "
                     "<b>(local model)</b> is a small base model run on this machine: real tokens and timings, poor answers.</div>")  # fmt: skip
    if "provider" in df.columns and (df["provider"] == "replay").any():
        parts.append("<div class=note>Deployments marked <b>(replay)</b> replay a recorded run at its recorded timings: "
                     "they are not live measurements.</div>")  # fmt: skip
    reasoning_figs: dict[str, go.Figure] = {}
    if df.empty:
        parts.append("<p>No requests in this selection.</p>")
    else:
        labels = dict(zip(df["deployment"], C.dep_labels(df)))
        parts += ["<h2>Headline</h2><div class=cards>", *(_card(h, h.label(labels)) for h in headlines(df)), "</div>"]
        parts += _capacity_parts(df, slos, sweep)
        sentences = [paired_sentence(paired_compare(paired_frame(df)))]
        stream = df[df["mode"] == "stream"] if "mode" in df.columns else df
        deps = sorted(stream["deployment"].dropna().unique())
        if len(deps) >= 2:
            base = deps[0]
            for other in deps[1:]:  # TTFT over every request that reached a first token
                (xa, pa), (xb, pb) = (metric_samples(stream[stream.deployment == d], "ttft_s") for d in (base, other))
                c = compare(xa, xb, labels.get(base, base), labels.get(other, other), prompts_a=pa, prompts_b=pb)
                sentences.append(comparison_sentence(c))
        parts += ["<h2>In one sentence</h2><ul>", *(f"<li>{html.escape(s)}</li>" for s in sentences), "</ul>"]
        parts += ["<h2>Percentiles</h2>", f"<p class=ci>{html.escape(_NOTES)}</p>", _table(format_percentile_table(percentile_table(df)))]
        if R.has_reasoning(df):
            table = R.effort_table(df)
            parts += ["<h2>Latency across reasoning efforts</h2>", f"<p class=ci>{html.escape(R.EFFORT_NOTE)}</p>", _table(table.round(4))]
            reasoning_figs = {"effort_ttft": R.effort_figure(table, "TTFT"), "effort_thinking": R.effort_figure(table, "thinking"),
                              "breakdown": R.breakdown_figure(R.breakdown(ok_rows(df)))}  # fmt: skip
        st = C.stalls(df)
        if len(st):
            parts += [f"<h2>Stalled streams ({len(st)})</h2>", _table(st.head(50))]
    figs = figures if figures is not None else (C.default_figures(df) if len(df) else {})
    figs = {**figs, **reasoning_figs}
    if sweep is not None and sweep.steps:
        from streaming.analysis.knee import knee_chart

        figs = {"knee": knee_chart(sweep), **figs}
    if server is not None and server.shown:
        from streaming.analysis.server_charts import CAPTION

        parts += ["<h2 id=server-side>Server side</h2>", f"<p class=ci>{html.escape(CAPTION)}</p>",
                  *(f"<div class=note>{html.escape(w)}</div>" for w in server.warnings), *(f"<p>{html.escape(x)}</p>" for x in server.sentences)]  # fmt: skip
        parts += [f"<div class=fig id='fig-server-{html.escape(n)}'>{f.to_html(full_html=False, include_plotlyjs=False)}</div>" for n, f in server.figures.items()]
    if figs:
        parts.append("<h2>Charts</h2>")
        for name, fig in figs.items():
            parts.append(f"<div class=fig id='fig-{html.escape(name)}'>{fig.to_html(full_html=False, include_plotlyjs=False, config={'responsive': True})}</div>")
    body = "\n".join(parts)
    return (
        f"<!DOCTYPE html>\n<html lang=en><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<meta name=viewport content='width=device-width, initial-scale=1'><style>{_CSS}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>\n{body}\n</body></html>\n"
    )
