"""Comparisons in one plain sentence, with their uncertainty.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from streaming.analysis.compare import MIN_PAIRS_FOR_CI, Comparison, PairedComparison
from streaming.core.record import outcome_counts


def plural(n: int, noun: str) -> str:
    """``"1 request"``, ``"2 requests"``."""
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


STOPPED_HELP = ("stopped: requests the user stopped (the demo's or the Benchmark page's Stop, status cancelled); "
                "not failures, and left out of the failure rate")


def request_counts(n: int, failed: int, stopped: int = 0) -> str:
    """``"12 requests, 1 failed"``, with ``", 2 stopped"`` when the user stopped any (stopped is not failed)."""
    return f"{plural(n, 'request')}, {failed:,} failed" + (f", {stopped:,} stopped" if stopped else "")


def _fmt_s(v: float) -> str:
    """Seconds as ms below 1 s, else s."""
    if math.isnan(v):
        return "n/a"
    return f"{v * 1000:.0f} ms" if abs(v) < 1 else f"{v:.2f} s"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "p n/a"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _effect_word(delta: float) -> str:
    a = abs(delta)  # Romano et al. (2006) thresholds for Cliff's delta
    return "negligible" if a < 0.147 else "small" if a < 0.33 else "medium" if a < 0.474 else "large"


def comparison_sentence(c: Comparison, metric: str = "median TTFT", seconds: bool = True, why_a: str | None = None,
                        why_b: str | None = None) -> str:  # fmt: skip
    """One sentence a stakeholder can read. ``why_a``/``why_b`` (from ``why_no_values``) say why a side has no value."""
    if c.n_a == 0 or c.n_b == 0:
        empty = [f"{label} has no value ({why or 'no request counts for this metric'})"
                 for label, n, why in ((c.label_a, c.n_a, why_a), (c.label_b, c.n_b, why_b)) if n == 0]  # fmt: skip
        return f"Cannot compare {metric} of {c.label_a} and {c.label_b}: {' and '.join(empty)}."
    fmt = _fmt_s if seconds else (lambda v: f"{v:.3g}")  # on prompts, each side's figure is its prompts' geometric mean median
    if c.diff == 0:
        direction = "the same as"
    else:
        direction = "higher than" if c.diff > 0 else "lower than"
    size = fmt(abs(c.diff)) + " " if c.diff != 0 else ""
    verdict = (
        f"the difference is statistically significant and its effect is {_effect_word(c.effect)}"
        if c.significant
        else "the difference is not statistically significant: it could be noise"
    )
    if c.unit.kind == "requests":
        how = f"Mann-Whitney {_fmt_p(c.p_value)}"
    else:  # the interval was built as a ratio: show it as one too
        r, r_lo, r_hi = c.ratio
        how = f"B/A {r:.2f}× [{r_lo:.2f}–{r_hi:.2f}×], {c.test} {_fmt_p(c.p_value)}"
    return (
        f"{metric[:1].upper() + metric[1:]} of {c.label_b} ({fmt(c.median_b)}, n={c.n_b}) is {size}{direction} {c.label_a} "
        f"({fmt(c.median_a)}, n={c.n_a}) {c.unit.text}; 95 % CI of the difference {fmt(c.diff_lo)} to {fmt(c.diff_hi)}, "
        f"{how}, Cliff's δ = {c.effect:+.2f}: {verdict}."
    )


def paired_sentence(p: PairedComparison | None, mode_filter: Sequence[str] = ()) -> str:
    """One sentence on how much longer a non-streaming user waits for the same prompt.

    ``mode_filter``: the modes a filter kept (empty: no filter), so a missing pair can be blamed on the filter."""
    if p is None:
        if len(set(mode_filter)) == 1:
            kept = "streaming" if "stream" in mode_filter else "non-streaming"
            return (f"The Mode filter keeps only {kept} requests, so no prompt can be paired with its "
                    f"{'non-streaming' if kept == 'streaming' else 'streaming'} twin; select both modes to see the ratio.")  # fmt: skip
        return "No prompt was run both streaming and non-streaming, so the perceived waits cannot be paired."
    r = p.ratio
    sig = "significant" if (not math.isnan(p.p_value) and p.p_value < 0.05) else "not significant"
    ci = (f"95 % CI {r.lo:.1f}–{r.hi:.1f}×" if not math.isnan(r.lo)
          else f"no CI: {p.n_pairs} prompt{'s' if p.n_pairs != 1 else ''} is too few, it needs {MIN_PAIRS_FOR_CI}")  # fmt: skip
    return (
        f"On the same {p.n_pairs} prompt{'s' if p.n_pairs != 1 else ''}, a non-streaming user waits {r.value:.1f}× as long "
        f"({ci}) as a streaming user waits for the first token: median {_fmt_s(p.median_nonstream)} "
        f"vs {_fmt_s(p.median_stream)}; Wilcoxon signed-rank {_fmt_p(p.p_value)} ({sig})."
    )


_NAMES = {"ttft_s": "TTFT", "tokens_per_s": "tokens/s", "tpot_s": "TPOT", "e2e_s": "end-to-end time", "perceived_wait_s": "perceived wait"}
_STREAM_ONLY = ("ttft_s", "tokens_per_s", "tpot_s", "ttft_incl_retries_s", "ttft_from_schedule_s")


def why_no_values(rows: pd.DataFrame, metric: str) -> str:
    """Why a group of requests has no value of ``metric``, in a few words (for ``comparison_sentence``)."""
    n = len(rows)
    name = _NAMES.get(metric, metric)
    if n == 0:
        return "no request"
    stream = rows["stream"].to_numpy(dtype=bool) if "stream" in rows.columns else np.ones(n, dtype=bool)
    if metric in _STREAM_ONLY and not stream.any():
        return f"its {n} request{'s are' if n != 1 else ' is'} non-streaming, and a non-streaming request has no {name}"
    status = rows["status"].to_numpy(dtype=object) if "status" in rows.columns else np.full(n, "ok", dtype=object)
    _, failed, stopped = outcome_counts(status)
    reached = "reached a first token" if metric.startswith("ttft") else "completed"
    return f"none of its {plural(n, 'request')} {reached}; {failed} failed" + (f", {stopped} stopped by the user" if stopped else "")


def ttft_n_caption(n_ttft: int, n_streamed: int) -> str:
    """The headline's note when the median TTFT has no value: no streamed request, or streamed ones that all failed."""
    if n_ttft:
        return f"n={n_ttft}"
    if n_streamed == 0:
        return "n=0 (no streamed request)"
    return f"n=0 ({n_streamed} streamed request{'s' if n_streamed != 1 else ''}, none reached a first token)"
