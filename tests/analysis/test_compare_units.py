"""The Compare sentence tests on prompts: a known null keeps its 5 % false-positive rate; planted effects are found."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from streaming.analysis.compare import compare
from streaming.analysis.wording import comparison_sentence

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from compare_false_positives import draw, false_positive_rate  # noqa: E402

TRIALS = 400


def binomial_band(trials: int, p: float = 0.05, alpha: float = 0.001) -> tuple[float, float]:
    """The rates a test of true size ``p`` lands in with probability 1 − ``alpha`` over ``trials`` trials."""
    from scipy import stats as sps  # here, not at the top: each worker imports every test module, and scipy.stats costs 1.2 s of CPU

    lo, hi = sps.binom.ppf([alpha / 2, 1 - alpha / 2], trials, p)
    return lo / trials, hi / trials


@pytest.mark.parametrize("paired", [True, False], ids=["same-prompts", "own-prompts"])
def test_known_null_gives_five_percent_false_positives(paired: bool) -> None:
    lo, hi = binomial_band(TRIALS)
    rate = false_positive_rate(TRIALS, seed=11, paired=paired)
    assert lo <= rate <= hi, f"{rate:.1%} outside [{lo:.1%}, {hi:.1%}]"
    # requests as the unit (the old sentence) on the same draws: far above the band
    assert false_positive_rate(TRIALS // 4, seed=11, paired=paired, by_prompt=False, resamples=100) > 2 * hi


def test_unit_is_named_in_the_sentence() -> None:
    rng = np.random.default_rng(3)
    a, pa, b, pb = draw(rng, 5, 20, paired=True)
    c = compare(a, b, "A", "B", prompts_a=pa, prompts_b=pb)
    assert c.unit.kind == "paired prompts" and (c.unit.n_a, c.unit.repeats) == (5, (20, 20))
    sentence = comparison_sentence(c)
    assert "over 5 prompts (paired), 20 repeats each" in sentence and "paired t-test over prompts" in sentence
    a, pa, b, pb = draw(rng, 5, 20, paired=False)
    c = compare(a, b, prompts_a=pa, prompts_b=pb)
    assert "over 5 and 5 prompts (unpaired), 20 repeats each" in comparison_sentence(c) and c.test.startswith("Welch")
    c = compare(a, b)
    assert c.unit.kind == "requests" and "Mann-Whitney" in comparison_sentence(c)


def test_planted_ratio_is_found_with_its_hand_computed_value() -> None:
    # 6 prompts whose medians are known exactly (odd repeats, symmetric noise around each median): B = 1.5 × A on every prompt
    base = np.array([0.1, 0.2, 0.4, 0.8, 1.6, 3.2])
    noise = np.array([0.9, 1.0, 1.1])
    a = np.concatenate([m * noise for m in base])
    b = np.concatenate([1.5 * m * noise[::-1] for m in base])
    ids = np.repeat([f"p{i}" for i in range(6)], 3)
    c = compare(a, b, prompts_a=ids, prompts_b=ids)
    geo = float(np.exp(np.log(base).mean()))  # the geometric mean of A's prompt medians, by hand: 0.1 · 2^2.5
    assert c.median_a == pytest.approx(geo) and c.median_b == pytest.approx(1.5 * geo)
    assert c.diff == pytest.approx(0.5 * geo) and c.diff_lo == pytest.approx(c.diff_hi)  # every prompt moved by the same ratio
    assert c.significant and c.ratio[0] == pytest.approx(1.5)


def test_one_prompt_a_side_falls_back_to_requests_and_says_so() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.lognormal(0, 0.1, 30), 1.3 * rng.lognormal(0, 0.1, 30)
    c = compare(a, b, prompts_a=["p"] * 30, prompts_b=["p"] * 30)
    assert c.unit.kind == "requests" and "one prompt" in c.unit.text and c.significant


def test_misaligned_prompts_are_refused() -> None:
    with pytest.raises(ValueError, match="one prompt per value"):
        compare([1.0, 2.0], [1.0, 2.0], prompts_a=["p"], prompts_b=["p", "q"])
