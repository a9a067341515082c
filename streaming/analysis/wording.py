"""Comparisons in one plain sentence, with their uncertainty.
"""

from __future__ import annotations

import math

from streaming.analysis.compare import Comparison, PairedComparison


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


def comparison_sentence(c: Comparison, metric: str = "median TTFT", seconds: bool = True) -> str:
    """One sentence a stakeholder can read."""
    if c.n_a == 0 or c.n_b == 0:
        return f"Cannot compare {c.label_a} and {c.label_b}: one of them has no successful requests."
    fmt = _fmt_s if seconds else (lambda v: f"{v:.3g}")
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
    return (
        f"{metric[:1].upper() + metric[1:]} of {c.label_b} ({fmt(c.median_b)}, n={c.n_b}) is {size}{direction} {c.label_a} "
        f"({fmt(c.median_a)}, n={c.n_a}); 95 % CI of the difference {fmt(c.diff_lo)} to {fmt(c.diff_hi)}, "
        f"Mann-Whitney {_fmt_p(c.p_value)}, Cliff's δ = {c.effect:+.2f}: {verdict}."
    )


def paired_sentence(p: PairedComparison | None) -> str:
    """One sentence on how much longer a non-streaming user waits for the same prompt."""
    if p is None:
        return "No prompt was run both streaming and non-streaming, so the perceived waits cannot be paired."
    r = p.ratio
    sig = "significant" if (not math.isnan(p.p_value) and p.p_value < 0.05) else "not significant"
    return (
        f"On the same {p.n_pairs} prompt{'s' if p.n_pairs != 1 else ''}, a non-streaming user waits {r.value:.1f}× as long "
        f"(95 % CI {r.lo:.1f}–{r.hi:.1f}×) as a streaming user waits for the first token: median {_fmt_s(p.median_nonstream)} "
        f"vs {_fmt_s(p.median_stream)}; Wilcoxon signed-rank {_fmt_p(p.p_value)} ({sig})."
    )
