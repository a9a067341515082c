"""Statistics on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from metrics_frames import make_frame

from streaming.analysis import estimators
from streaming.analysis.compare import (
    cliffs_delta,
    compare,
    paired_compare,
    paired_frame,
)
from streaming.analysis.estimators import (
    bootstrap_quantiles,
    median_ci,
    min_n_for,
    percentile,
)
from streaming.analysis.tables import (
    format_percentile_table,
    headlines,
    percentile_table,
)
from streaming.analysis.wording import comparison_sentence, paired_sentence


def test_percentiles_of_known_distributions() -> None:
    from scipy import stats as sps  # here, not at the top: each worker imports every test module, and scipy.stats costs 1.2 s of CPU

    grid = np.linspace(0.0, 1.0, 101)  # type-7 percentiles of an even grid are exact
    for q in (0.5, 0.9, 0.95, 0.99):
        assert percentile(grid, q) == pytest.approx(q)
    x = np.random.default_rng(3).normal(size=200_000)
    for q in (0.5, 0.9, 0.95, 0.99):
        assert percentile(x, q) == pytest.approx(sps.norm.ppf(q), abs=0.02)
    e = np.random.default_rng(4).exponential(2.0, size=200_000)
    assert percentile(e, 0.5) == pytest.approx(2.0 * np.log(2), rel=0.02)
    assert np.isnan(percentile([], 0.5))
    assert percentile([None, 1.0, float("nan"), 3.0], 0.5) == 2.0  # missing values dropped


def test_unsupported_percentiles_are_flagged() -> None:
    assert [min_n_for(q) for q in (0.5, 0.9, 0.95, 0.99)] == [2, 10, 20, 100]
    x = np.arange(99.0)
    p50, p99 = bootstrap_quantiles(x, [0.5, 0.99])
    assert p99.flagged and not p50.flagged and p99.n == 99
    assert p99.value >= np.sort(x)[-2]  # it is (next to) the maximum, which is why it is flagged
    assert "≈max" in p99.fmt()
    assert not bootstrap_quantiles(np.arange(100.0), [0.99])[0].flagged


def test_bootstrap_ci_covers_true_median_about_95_percent() -> None:
    rng = np.random.default_rng(12345)
    true_median = np.log(2.0)  # Exp(1)
    hits = 0
    for i in range(1000):
        e = median_ci(rng.exponential(1.0, size=60), resamples=1000, seed=i)
        assert e.lo <= e.value <= e.hi
        hits += e.lo <= true_median <= e.hi
    assert 930 <= hits <= 970, hits


def test_large_sample_shortcut_matches_direct_resampling(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.random.default_rng(7).lognormal(0.0, 0.5, size=2000)
    monkeypatch.setattr(estimators, "_DIRECT_BUDGET", 10**9)
    direct = bootstrap_quantiles(x, [0.5, 0.95], resamples=2000, seed=1)
    monkeypatch.setattr(estimators, "_DIRECT_BUDGET", 0)
    shortcut = bootstrap_quantiles(x, [0.5, 0.95], resamples=2000, seed=1)
    for d, s in zip(direct, shortcut):
        assert s.value == d.value
        assert s.lo == pytest.approx(d.lo, rel=0.02) and s.hi == pytest.approx(d.hi, rel=0.02)


@pytest.mark.parametrize("shift,detected", [(0.10, True), (0.0, False)], ids=["10pct", "none"])
def test_planted_median_shift(shift: float, detected: bool) -> None:
    rng = np.random.default_rng(2024)
    a = 0.5 * rng.lognormal(0.0, 0.3, size=500)
    b = 0.5 * (1 + shift) * rng.lognormal(0.0, 0.3, size=500)
    c = compare(a, b, "before", "after")
    assert c.n_a == c.n_b == 500
    assert c.significant is detected
    assert (c.p_value < 0.05) is detected
    assert (c.diff_lo > 0) is detected
    if detected:
        assert c.diff == pytest.approx(0.05, abs=0.02) and c.effect > 0
    sentence = comparison_sentence(c)
    assert "after" in sentence and "before" in sentence and sentence.count(".") >= 1
    assert ("not statistically significant" in sentence) is (not detected)


def test_cliffs_delta_extremes() -> None:
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([3.0, 4.0])) == 1.0
    assert cliffs_delta(np.array([3.0, 4.0]), np.array([1.0, 2.0])) == -1.0
    assert cliffs_delta(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0


def test_paired_stream_vs_non_stream() -> None:
    rng = np.random.default_rng(5)
    ttft = rng.uniform(0.1, 0.3, size=40)
    rows = [
        {"deployment": "d", "temperature": 0.0, "prompt_id": f"p{i}", "mode": m, "status": "ok", "perceived_wait_s": v}
        for i, t in enumerate(ttft)
        for m, v in (("stream", t), ("non-stream", 3.0 * t * rng.uniform(0.95, 1.05)))
    ]
    pairs = paired_frame(pd.DataFrame(rows))
    assert len(pairs) == 40
    p = paired_compare(pairs)
    assert p is not None and p.n_pairs == 40 and p.p_value < 1e-6
    assert p.ratio.lo <= 3.0 <= p.ratio.hi and p.ratio.value == pytest.approx(3.0, rel=0.03)
    assert "3.0×" in paired_sentence(p)
    assert "cannot be paired" in paired_sentence(paired_compare(paired_frame(pd.DataFrame(rows[::2]))))


def test_percentile_table_and_headlines_on_a_run() -> None:
    df = make_frame(prompts=4, repeats=3, failures=1)  # 12 rows per (deployment, temperature, mode); one 429
    long = percentile_table(df)
    assert set(long["metric"]) == {"ttft_s", "e2e_s", "tpot_s", "tokens_per_s"}
    ttft = long[long["metric"] == "ttft_s"]
    assert set(ttft["mode"]) == {"stream"}  # non-streaming calls have no TTFT
    first = ttft[(ttft.deployment == "sim-fast") & (ttft.temperature == 0.0)]
    assert set(first["n"]) == {11}  # the failed request is not measured
    assert first[first.q == 0.99]["flagged"].all() and not first[first.q == 0.5]["flagged"].any()
    assert (long["lo"] <= long["value"]).all() and (long["value"] <= long["hi"]).all()
    wide = format_percentile_table(long)
    assert list(wide.columns[-5:]) == ["p50", "p90", "p95", "p99", "n"]
    assert wide["p99"].str.contains("≈max").all()
    heads = {h.deployment: h for h in headlines(df)}
    assert heads["sim-fast"].n_failed == 1 and heads["sim-fast"].n_requests == 48
    assert heads["sim-slow"].ttft.value > heads["sim-fast"].ttft.value
    assert heads["sim-fast"].wait_ratio is not None and heads["sim-fast"].wait_ratio.value > 1.0
