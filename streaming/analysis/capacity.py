"""Capacity figures: SLOs, aggregate throughput, goodput, saturation, and a sweep's steps and edge.

Definitions (the README repeats them):

- *span*: how long the group was sending (``analysis/spans``): the union of its runs' windows, each from
  the first send to the last end over all its workers on the shared wall clock (each worker's monotonic
  times plus its recorded wall-clock offset), failures included; gaps between runs are not counted;
- *requests/s*: successful requests / span; *output tokens/s* and *input tokens/s*: their
  ``output_tokens`` and ``input_tokens`` summed / span; ``span`` says what it covers
  ("over 2 workers, 1 run, 12.3 s");
- *goodput*: the same two rates (requests/s, output tokens/s) over the successful requests that
  meet every SLO given; a percentile SLO (``ttft_p95 <= 0.5``) is applied to each request's own
  value (its TTFT ≤ 0.5 s), a request whose value is undefined (TTFT of a non-streaming call) does
  not meet it, and aggregate SLOs (``error_rate``, ``retries``, …) only ask that the request succeeded;
- *saturation*: a queue building during a run — the median perceived wait of the last quarter of
  requests (by send time) is at least 1.5× and 50 ms above the first quarter's, wait rises with send
  time (Spearman ρ ≥ 0.5), and the completion rate of the run's second half is no more than 15 % above
  its first half's.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from streaming.analysis.metric_names import SUMMARY_METRICS
from streaming.analysis.saturation import Saturation, detect_saturation
from streaming.analysis.estimators import Estimate, bootstrap_quantiles
from streaming.analysis.spans import Span, span_of
from streaming.errors import ConfigError

_SLO = re.compile(r"^\s*([a-z_0-9]+)\s*(>=|<=|==|!=|>|<)\s*([-+0-9.eE]+)\s*$")
_OPS = {">": operator.gt, "<": operator.lt, ">=": operator.ge, "<=": operator.le, "==": operator.eq, "!=": operator.ne}
_PCT = re.compile(r"^(ttft|e2e|tpot|tokens_per_s|wait)_p(\d+)$")
PER_REQUEST = {"ttft": "ttft_s", "e2e": "e2e_s", "tpot": "tpot_s", "tokens_per_s": "tokens_per_s", "wait": "perceived_wait_s"}
THROUGHPUT_COLUMNS = ("duration_s", "runs", "workers", "requests_per_s", "output_tokens_per_s", "input_tokens_per_s")
SPAN_COLUMN = "span"  # text: which span the throughput figures divide by
GOODPUT_COLUMNS = ("goodput_requests_per_s", "goodput_tokens_per_s", "slo_met")


@dataclass(frozen=True)
class Slo:
    """One service-level objective, ``METRIC OP NUMBER`` as in ``--fail-if`` (but it must hold)."""

    metric: str
    op: str
    value: float

    @property
    def text(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"

    def holds(self, v: float) -> bool:
        return not math.isnan(v) and bool(_OPS[self.op](v, self.value))

    @property
    def quantile(self) -> float | None:
        m = _PCT.match(self.metric)
        return int(m.group(2)) / 100 if m else None

    @property
    def column(self) -> str | None:
        """The record column a percentile SLO is about (``ttft_p95`` → ``ttft_s``), else None."""
        m = _PCT.match(self.metric)
        return PER_REQUEST[m.group(1)] if m else None


def parse_slo(text: str, flag: str = "--slo") -> Slo:
    """ "ttft_p95 <= 0.5" → Slo; a ConfigError naming the flag when it does not parse or names no metric."""
    m = _SLO.match(text)
    if not m:
        raise ConfigError(f"{flag} {text!r}: write it as METRIC OP NUMBER, e.g. \"ttft_p95 <= 0.5\" (seconds) or \"error_rate <= 0.01\"")
    if m.group(1) not in SUMMARY_METRICS:
        raise ConfigError(f"{flag} {text!r}: unknown metric '{m.group(1)}'; one of {list(SUMMARY_METRICS)}")
    return Slo(m.group(1), m.group(2), float(m.group(3)))


def parse_slos(texts: Sequence[str], flag: str = "--slo") -> list[Slo]:
    return [parse_slo(t, flag) for t in texts]


# -- throughput and goodput ----------------------------------------------------------------------
def window_s(df: pd.DataFrame) -> float:
    """Seconds the rows were sending: the span of ``analysis.spans`` (NaN when none is timed)."""
    return span_of(df).seconds


def meets_slos(df: pd.DataFrame, slos: Sequence[Slo]) -> np.ndarray:
    """Per request: succeeded and each percentile SLO holds on its own value (see the module doc)."""
    met = (df["status"] == "ok").to_numpy(dtype=bool).copy()
    for s in slos:
        col = s.column
        if col is None or col not in df.columns:
            continue
        v = df[col].to_numpy(dtype=float)
        with np.errstate(invalid="ignore"):
            met &= np.isfinite(v) & _OPS[s.op](v, s.value)
    return met


def throughput_row(g: pd.DataFrame, slos: Sequence[Slo] = ()) -> dict[str, float]:
    """duration_s (the span), runs, workers, requests_per_s, output/input tokens per s; with SLOs also goodput and the share
    of requests meeting them."""
    span = span_of(g)
    w = span.seconds
    ok = g[g["status"] == "ok"]

    def rate(x: float) -> float:
        return x / w if w and not math.isnan(w) else float("nan")

    def tokens(d: pd.DataFrame, col: str) -> float:
        return float(d[col].astype(float).fillna(0).sum()) if col in d.columns else float("nan")

    out = {"duration_s": w, "runs": float(span.runs), "workers": float(span.workers), "requests_per_s": rate(len(ok)), "output_tokens_per_s": rate(tokens(ok, "output_tokens")),
           "input_tokens_per_s": rate(tokens(ok, "input_tokens"))}  # fmt: skip
    if slos:
        met = meets_slos(g, slos)
        good = g[met]
        out.update(goodput_requests_per_s=rate(len(good)), goodput_tokens_per_s=rate(tokens(good, "output_tokens")),
                   slo_met=float(met.mean()) if len(g) else float("nan"))  # fmt: skip
    return out


def with_throughput(summary: pd.DataFrame, df: pd.DataFrame, keys: Sequence[str], slos: Sequence[Slo] = ()) -> pd.DataFrame:
    """The summary with the throughput (and, given SLOs, goodput) columns appended, per group."""
    cols = [*THROUGHPUT_COLUMNS, *(GOODPUT_COLUMNS if slos else ())]
    if summary.empty or df.empty:
        return summary.reindex(columns=[*summary.columns, *cols, SPAN_COLUMN])
    rows = {_key(k): throughput_row(g, slos) for k, g in df.groupby(list(keys), dropna=False, sort=True)}
    out = summary.copy()
    for c in cols:
        out[c] = [rows.get(_key(r), {}).get(c, float("nan")) for r in summary[list(keys)].itertuples(index=False, name=None)]
    out[SPAN_COLUMN] = [span_text(r) for r in out[["duration_s", "runs", "workers"]].itertuples(index=False)]
    return out


def span_text(row: Sequence[float]) -> str:
    """(duration_s, runs, workers) as ``over 2 workers, 1 run, 12.3 s``."""
    seconds, runs, workers = (float(v) for v in row)
    return "no timed request" if math.isnan(seconds) else Span(seconds, int(runs), int(workers)).text


def _key(k: object) -> tuple[object, ...]:
    """A group key usable in a dict: NaN (the server's default temperature) never equals itself."""
    t = k if isinstance(k, tuple) else (k,)
    return tuple(None if isinstance(x, float) and math.isnan(x) else x for x in t)


def run_saturation(df: pd.DataFrame) -> Saturation:
    """``detect_saturation`` over one run's stored requests (send time, perceived wait of the successes, end time)."""
    if df.empty:
        return detect_saturation([], [], [])
    sent = df["sent_s"].to_numpy(dtype=float)
    wait = np.where((df["status"] == "ok").to_numpy(dtype=bool), df["perceived_wait_s"].to_numpy(dtype=float), np.nan)
    e2e = df["e2e_incl_retries_s"].to_numpy(dtype=float) if "e2e_incl_retries_s" in df.columns else np.full(len(df), np.nan)
    e2e = np.where(np.isfinite(e2e), e2e, df["e2e_s"].to_numpy(dtype=float))
    return detect_saturation(sent, wait, sent + np.nan_to_num(e2e, nan=0.0))
