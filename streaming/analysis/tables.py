"""Tables of a run: the per-cell summary (percentiles, errors, retries), the percentile table with CIs, headline cards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from streaming.analysis.compare import MIN_PAIRS_FOR_CI, paired_frame, without_ci
from streaming.analysis.estimators import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    METRIC_LABELS,
    Estimate,
    cluster_bootstrap_quantiles,
    median_ci,
)
from streaming.analysis.metric_names import (  # noqa: F401 - SUMMARY_METRICS is public here too
    EXTRA_PERCENTILE_METRICS,
    PCTS,
    PERCENTILE_METRICS,
    SUMMARY_METRICS,
)
from streaming.analysis.grouping import IDENTITY_KEYS, group_keys, group_label
from streaming.analysis.display import ci_cell, readable_keys
from streaming.analysis.wording import request_counts
from streaming.core.record import counts_for, outcome_counts


def format_summary(summary: pd.DataFrame) -> str:
    """The summary as a plain-text table, times in milliseconds."""
    if summary.empty:
        return "(no requests)"
    t = pd.DataFrame({
        "deployment": summary["deployment"],
        "T": [("default" if pd.isna(v) else f"{v:g}") for v in summary["temperature"]],
        "mode": summary["mode"], "n": summary["n"], "errors": summary["errors"], "retries": summary["retries"],
    })  # fmt: skip
    if "stopped" in summary.columns and summary["stopped"].fillna(0).gt(0).any():  # stopped by the user: not errors
        t.insert(t.columns.get_loc("errors") + 1, "stopped", [int(v) for v in summary["stopped"].fillna(0)])
    for c, label in (("reasoning_effort", "effort"), ("api", "api")):  # each inserted after mode: api, then effort
        if c in summary.columns:
            t.insert(3, label, [("default" if v is None or pd.isna(v) else str(v)) for v in summary[c]])
    from streaming.analysis.estimators import is_supported

    ok_n = [int(v) for v in summary["ok"]]
    flagged = False

    def cells(values: pd.Series, p: int, fmt: Callable[[float], str], metric: str = "") -> list[str]:
        nonlocal flagged
        out = []
        counted = [int(v) for v in summary[f"n_{metric}"]] if f"n_{metric}" in summary.columns else ok_n
        for v, n in zip(values, counted):
            if pd.isna(v):
                out.append("-")
            elif is_supported(n, p / 100):
                out.append(fmt(v))
            else:  # too few requests: this "percentile" is the sample's extreme, not an estimate
                flagged = True
                out.append(fmt(v) + "*")
        return out

    retried = bool(summary["retries"].fillna(0).gt(0).any())
    rate_mode = bool(summary["schedule_lag_p99"].notna().any())
    shown = [("ttft", "TTFT")]
    shown += [("ttft_incl_retries", "TTFT+retries")] if retried else []
    shown += [("ttft_from_schedule", "TTFT from sched")] if rate_mode else []
    shown += [("e2e", "e2e")]
    shown += [("e2e_incl_retries", "e2e+retries")] if retried else []
    shown += [("e2e_from_schedule", "e2e from sched")] if rate_mode else []
    shown += [("tpot", "TPOT")]
    for m, label in shown:
        if f"{m}_p50" not in summary.columns:
            continue
        if f"n_{m}" in summary.columns and m in ("ttft", "e2e"):  # n per metric: TTFT counts every request with a first token
            t[f"n {label}"] = [int(v) for v in summary[f"n_{m}"]]
        for p in (50, 90, 95, 99):
            t[f"{label} p{p} ms"] = cells(summary[f"{m}_p{p}"], p, lambda v: f"{v * 1000:.0f}", m)
    for p in (50, 90, 95, 99):
        t[f"tok/s p{p}"] = cells(summary[f"tokens_per_s_p{p}"], p, lambda v: f"{v:.1f}", "tokens_per_s")
    t["retry wait s"] = [f"{v:.2f}" for v in summary["retry_wait_s"]]
    if rate_mode:  # rate mode: how late the sends were (coordinated omission)
        t["send lag p99 ms"] = [("-" if pd.isna(v) else f"{v * 1000:.1f}") for v in summary["schedule_lag_p99"]]
    t["req/s"] = [("-" if pd.isna(v) else f"{v:.2f}") for v in summary.get("requests_per_s", pd.Series([np.nan] * len(t)))]
    t["out tok/s"] = [("-" if pd.isna(v) else f"{v:.1f}") for v in summary.get("output_tokens_per_s", pd.Series([np.nan] * len(t)))]
    t["in tok/s"] = [("-" if pd.isna(v) else f"{v:.1f}") for v in summary.get("input_tokens_per_s", pd.Series([np.nan] * len(t)))]
    if "goodput_requests_per_s" in summary.columns:  # only when --slo was given
        t["goodput req/s"] = [("-" if pd.isna(v) else f"{v:.2f}") for v in summary["goodput_requests_per_s"]]
        t["goodput tok/s"] = [("-" if pd.isna(v) else f"{v:.1f}") for v in summary["goodput_tokens_per_s"]]
        t["SLO met"] = [("-" if pd.isna(v) else f"{v:.0%}") for v in summary["slo_met"]]
    table = t.to_string(index=False)
    if "span" in summary.columns:  # which time the rates divide by
        spans = sorted({str(v) for v in summary["span"] if isinstance(v, str)})
        table += "\nreq/s and tok/s per second of each row's span: " + "; ".join(spans) if spans else ""
    if flagged:
        table += "\n* too few requests behind this percentile (p90 needs 10, p95 20, p99 100): it is the sample's extreme, not an estimate"
    return table




KEYS = ["deployment", "temperature", "mode"]  # always present; ``grouping.group_keys`` adds api and effort where they vary


def summarize(df: pd.DataFrame, slos: Sequence[Any] = ()) -> pd.DataFrame:
    """One row per group (``grouping.group_keys``: deployment, temperature, mode, and api / effort where they vary): n, ok, errors,
    stopped (by the user: not errors), error_rate (errors / the requests not stopped), retries, retry_wait_s,
    {ttft,e2e,tpot,tokens_per_s,wait,ttft_incl_retries,e2e_incl_retries,ttft_from_schedule,e2e_from_schedule}_p{50,90,95,99}
    (seconds; tokens/s), each over the statuses that count for it (``core.record.METRIC_STATUSES``), and n_<metric>:
    how many requests each rests on; then the throughput columns, and with ``slos`` (``analysis.capacity.Slo``) the goodput
    ones (``analysis/capacity``)."""
    from streaming.analysis.capacity import with_throughput

    rows = []
    if not len(df):
        return pd.DataFrame(columns=[*KEYS, "n", "ok", "errors", "stopped", "error_rate", "retries", "retry_wait_s"])
    keys = group_keys(df)
    for key, g in df.groupby(keys, dropna=False, sort=True):
        n_ok, n_failed, n_stopped = outcome_counts(g["status"])
        row: dict[str, Any] = dict(zip(keys, key))
        decided = len(g) - n_stopped  # a request the user stopped is neither a success nor a failure
        row.update(n=len(g), ok=n_ok, errors=n_failed, stopped=n_stopped, error_rate=n_failed / decided if decided else float("nan"),
                   retries=int(g["retries"].fillna(0).sum()), retry_wait_s=float(g["retry_wait_s"].fillna(0).sum()))  # fmt: skip
        counted = {}
        for name, col in {**PERCENTILE_METRICS, **EXTRA_PERCENTILE_METRICS}.items():
            values = metric_values(g, col)
            counted[name] = len(values)
            for p in PCTS:
                row[f"{name}_p{p}"] = float(np.percentile(values, p)) if len(values) else float("nan")
        lag = g["schedule_lag_s"].to_numpy(dtype=float)
        lag = lag[~np.isnan(lag)]
        row["schedule_lag_p99"] = float(np.percentile(lag, 99)) if len(lag) else float("nan")
        row.update({f"n_{name}": n for name, n in counted.items()})
        rows.append(row)
    return with_throughput(pd.DataFrame(rows), df, keys, slos)  # the same keys: each row its own throughput




def metric_mask(g: pd.DataFrame, col: str) -> np.ndarray:
    """Which rows enter ``col``'s statistics: a finite value, from a request whose status counts for it."""
    if col not in g.columns:
        return np.zeros(len(g), dtype=bool)
    mask = np.isfinite(g[col].to_numpy(dtype=float, na_value=np.nan))
    if "status" in g.columns:
        stream = g["stream"].to_numpy(dtype=bool) if "stream" in g.columns else np.ones(len(g), dtype=bool)
        mask &= counts_for(col, g["status"].to_numpy(dtype=object), stream)
    return mask


def metric_values(g: pd.DataFrame, col: str) -> np.ndarray:
    """The finite values of ``col`` from the requests whose status counts for it (none when the column is absent)."""
    if col not in g.columns:
        return np.empty(0)
    return g[col].to_numpy(dtype=float, na_value=np.nan)[metric_mask(g, col)]


def metric_samples(g: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray | None]:
    """``metric_values`` and each value's prompt (``prompt_clusters``): what ``compare`` tests on."""
    clusters = prompt_clusters(g)
    return metric_values(g, col), (None if clusters is None else clusters[metric_mask(g, col)])


def prompt_clusters(g: pd.DataFrame) -> np.ndarray | None:
    """Each row's prompt, for the cluster bootstrap (a row without a prompt id is its own cluster); None without the column."""
    if "prompt_id" not in g.columns:
        return None
    pid = g["prompt_id"].astype(object).to_numpy()
    return np.array([p if isinstance(p, str) else f"\x00row{i}" for i, p in enumerate(pid)], dtype=object)


def ok_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Successful requests only: the latency statistics are over these; failures are counted separately."""
    return df[df["status"] == "ok"] if "status" in df.columns else df


def percentile_table(
    df: pd.DataFrame,
    metrics: Sequence[str] = ("ttft_s", "e2e_s", "tpot_s", "tokens_per_s"),
    by: Sequence[str] | None = None,
    qs: Sequence[float] = (0.5, 0.9, 0.95, 0.99),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int | None = DEFAULT_SEED,
) -> pd.DataFrame:
    """Long table: one row per (group, metric, percentile) with value, CI, n and flag; groups by ``grouping.group_keys``.

    Each metric is over the statuses that count for it (TTFT: every request with a first token; the rest:
    completed requests), so n is per metric. When any request retried, the retry-inclusive TTFT and e2e are
    added; in rate mode, the schedule-corrected ones."""
    by = group_keys(df) if by is None else [b for b in by if b in df.columns]  # default: the one grouping of every table
    cols = [*by, "metric", "q", "value", "lo", "hi", "n", "flagged"]
    metrics = [*metrics, *extra_metrics(df, metrics)]
    data = df[[*by, *(m for m in metrics if m in df.columns), *(c for c in ("status", "stream", "prompt_id") if c in df.columns)]]
    rows: list[tuple] = []
    if data.empty:
        return pd.DataFrame(columns=cols)
    for key, g in data.groupby(list(by), dropna=False, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        clusters = prompt_clusters(g)
        for m in metrics:
            keep = metric_mask(g, m)
            if not keep.any():
                continue
            x = g[m].to_numpy(dtype=float, na_value=np.nan)[keep]
            # prompts repeat: resample prompts, not requests (requests on one prompt are not independent)
            for e in cluster_bootstrap_quantiles(x, None if clusters is None else clusters[keep], qs, resamples=resamples, seed=seed):
                rows.append((*key, m, e.q, e.value, e.lo, e.hi, e.n, e.flagged))
    return pd.DataFrame(rows, columns=[*by, "metric", "q", "value", "lo", "hi", "n", "flagged"])


def extra_metrics(df: pd.DataFrame, metrics: Sequence[str]) -> list[str]:
    """The retry-inclusive figures when any request retried, the schedule-corrected ones in rate mode."""
    out = []
    if "retries" in df.columns and df["retries"].fillna(0).astype(float).gt(0).any():
        out += [f"{m}_incl_retries_s" for m in ("ttft", "e2e") if f"{m}_s" in metrics]
    if "schedule_lag_s" in df.columns and df["schedule_lag_s"].notna().any():
        out += [f"{m}_from_schedule_s" for m in ("ttft", "e2e") if f"{m}_s" in metrics]
    return [m for m in out if m in df.columns and m not in metrics]


# The percentile table's units: times in ms, rates in tok/s (never "0.00999 s").
TABLE_UNITS: dict[str, tuple[str, float, str]] = {
    "ttft_s": ("TTFT", 1000.0, "ms"),
    "ttft_incl_retries_s": ("TTFT incl. retries", 1000.0, "ms"),
    "ttft_from_schedule_s": ("TTFT from schedule", 1000.0, "ms"),
    "e2e_s": ("end-to-end", 1000.0, "ms"),
    "e2e_incl_retries_s": ("end-to-end incl. retries", 1000.0, "ms"),
    "e2e_from_schedule_s": ("end-to-end from schedule", 1000.0, "ms"),
    "tpot_s": ("TPOT", 1000.0, "ms/token"),
    "tokens_per_s": ("tokens/s", 1.0, "tok/s"),
    "perceived_wait_s": ("perceived wait", 1000.0, "ms"),
}


def _fmt_value(v: float, unit: str) -> str:
    if unit == "tok/s":
        return f"{v:.1f}"
    return f"{v:.1f}" if abs(v) < 10 else f"{v:.0f}"


def format_percentile_table(long: pd.DataFrame) -> pd.DataFrame:
    """Wide, readable table: one row per (group, metric), a column per percentile as ``value [lo–hi]`` (⚑ = unsupported;
    ``[—]``: no CI, n < 2), the group's headers in words (``display.readable_keys``)."""
    if long.empty:
        return pd.DataFrame()
    group = [c for c in long.columns if c not in ("metric", "q", "value", "lo", "hi", "n", "flagged")]

    def cell(r: pd.Series) -> str:
        _, scale, unit = TABLE_UNITS.get(r.metric, (r.metric, 1.0, ""))
        return ci_cell(r.value * scale, r.lo * scale, r.hi * scale, lambda x: _fmt_value(x, unit)) + (" ⚑ ≈max" if r.flagged else "")

    t = long.assign(label=[f"p{round(q * 100):d}" for q in long["q"]], cell=long.apply(cell, axis=1))
    wide = t.pivot_table(index=[*group, "metric"], columns="label", values="cell", aggfunc="first", observed=True, dropna=False)
    n = t.groupby([*group, "metric"], dropna=False, observed=True)["n"].first()
    wide = wide.join(n).reset_index()
    wide["n"] = wide["n"].astype("Int64")
    rank = {m: i for i, m in enumerate(TABLE_UNITS)}
    wide = wide.sort_values([*group, "metric"], key=lambda c: c.map(rank).fillna(99) if c.name == "metric" else c, kind="stable")
    wide["metric"] = wide["metric"].map(lambda m: f"{TABLE_UNITS[m][0]} ({TABLE_UNITS[m][2]})" if m in TABLE_UNITS else METRIC_LABELS.get(m, m))
    order = sorted([c for c in wide.columns if isinstance(c, str) and c.startswith("p") and c[1:].isdigit()], key=lambda c: int(c[1:]))
    return readable_keys(wide[[*group, "metric", *order, "n"]].dropna(subset=order, how="all"))


@dataclass(frozen=True)
class Headline:
    """Per-group headline (deployment, and api / effort where they vary): median TTFT, median tokens/s, the wait ratio."""

    deployment: str
    ttft: Estimate
    tokens_per_s: Estimate
    wait_ratio: Estimate | None
    n_requests: int
    n_failed: int
    n_streamed: int = 0  # streamed requests, whether or not they reached a first token
    group: tuple[tuple[str, Any], ...] = ()  # the group's keys and values (``grouping.IDENTITY_KEYS`` that split the rows)
    n_stopped: int = 0  # stopped by the user: not in n_failed

    def counts(self) -> str:
        """``"12 requests, 1 failed, 2 stopped"``: what the card's numbers rest on (stopped only when there are any)."""
        return request_counts(self.n_requests, self.n_failed, self.n_stopped)

    def label(self, names: dict[str, str] | None = None) -> str:
        """The card's title: the deployment's display name, then the api / effort that set this group apart."""
        keys, values = zip(*self.group) if self.group else (("deployment",), (self.deployment,))
        return group_label(keys, values, names)


def cluster_median(g: pd.DataFrame, col: str, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> Estimate:
    """Median of ``col`` with a CI from the cluster (by prompt) bootstrap, over the requests that count for it."""
    keep = metric_mask(g, col)
    clusters = prompt_clusters(g)
    x = g[col].to_numpy(dtype=float, na_value=np.nan)[keep] if col in g.columns else np.empty(0)
    return cluster_bootstrap_quantiles(x, None if clusters is None else clusters[keep], [0.5], resamples=resamples, seed=seed)[0]


def headlines(df: pd.DataFrame, resamples: int = DEFAULT_RESAMPLES, seed: int | None = DEFAULT_SEED) -> list[Headline]:
    """One Headline per ``grouping.IDENTITY_KEYS`` group, over the rows given (failures counted, not measured)."""
    out: list[Headline] = []
    if df.empty:
        return out
    df = df[[c for c in ("deployment", "api", "reasoning_effort", "status", "mode", "stream", "ttft_s", "tokens_per_s", "perceived_wait_s",
                         "temperature", "prompt_id", "pair_id") if c in df.columns]]  # fmt: skip
    keys = group_keys(df, IDENTITY_KEYS)
    for key, g in df.groupby(keys, sort=True, observed=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        _, n_failed, n_stopped = outcome_counts(g["status"]) if "status" in g.columns else (len(g), 0, 0)
        streamed = g[g["mode"] == "stream"] if "mode" in g.columns else g
        ttft, tps = (cluster_median(streamed, m, resamples, seed) for m in ("ttft_s", "tokens_per_s"))  # TTFT: every request with a first token
        pairs = paired_frame(g)  # within the group: a prompt pairs with its twin of the same api and effort
        ratio = median_ci(pairs["ratio"].to_numpy(float), resamples=resamples, seed=seed) if len(pairs) else None
        if ratio is not None and len(pairs) < MIN_PAIRS_FOR_CI:
            ratio = without_ci(ratio)
        out.append(Headline(str(key[0]), ttft, tps, ratio, int(len(g)), n_failed, int(len(streamed)), tuple(zip(keys, key)), n_stopped))
    return out
