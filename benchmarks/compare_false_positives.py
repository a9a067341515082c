"""How often does the Compare sentence call two identical deployments "statistically significant"? A known null.

Two identical deployments, each asked the same 5 prompts 20 times. A request's latency is
``base · exp(u_p + v_dp + e)``: ``u_p`` the prompt's own effect (shared by both deployments), ``v_dp`` how this
deployment happens to handle this prompt (drawn the same way for both: e.g. its answer's length, its cache),
``e`` the within-prompt noise. The prompt effects are large next to the noise, so the 20 repeats of a prompt
move together: there are 5 independent observations a side, not 100. Both deployments have the same
distribution, so at α = 0.05 an honest test says "significant" in 5 % of trials.

``unpaired`` gives each deployment its own 5 prompts from the same population instead (``prompts`` unit).

    python benchmarks/compare_false_positives.py                 # 1,000 trials, paired and unpaired
    python benchmarks/compare_false_positives.py --trials 5000 --seed 1

It prints, per design, the false-positive rate with requests as the unit (what the Compare sentence did
before it knew about prompts: ``compare`` without prompts) and with prompts as the unit (today's sentence).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from streaming.analysis.compare import compare  # noqa: E402

BASE_S = 0.3
PROMPT_SD = 0.5  # log-scale SD of a prompt's own effect
DEPLOYMENT_PROMPT_SD = 0.15  # log-scale SD of a deployment × prompt effect
NOISE_SD = 0.05  # log-scale SD within one prompt on one deployment


def draw(rng: np.random.Generator, prompts: int, repeats: int, paired: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One trial under the null: (a, prompts of a, b, prompts of b)."""
    u_a = rng.normal(0.0, PROMPT_SD, prompts)
    u_b = u_a if paired else rng.normal(0.0, PROMPT_SD, prompts)
    ids_a = np.repeat([f"p{i}" for i in range(prompts)], repeats)
    ids_b = ids_a if paired else np.repeat([f"q{i}" for i in range(prompts)], repeats)

    def side(u: np.ndarray) -> np.ndarray:
        v = rng.normal(0.0, DEPLOYMENT_PROMPT_SD, prompts)
        return BASE_S * np.exp(np.repeat(u + v, repeats) + rng.normal(0.0, NOISE_SD, prompts * repeats))

    return side(u_a), ids_a, side(u_b), ids_b


def false_positive_rate(trials: int, seed: int = 0, prompts: int = 5, repeats: int = 20, paired: bool = True,
                        by_prompt: bool = True, resamples: int = 200) -> float:  # fmt: skip
    """Share of ``trials`` null comparisons the sentence calls significant (``by_prompt=False``: requests as the unit)."""
    rng = np.random.default_rng(seed)
    hits = 0
    for i in range(trials):
        a, pa, b, pb = draw(rng, prompts, repeats, paired)
        kw = {"prompts_a": pa, "prompts_b": pb} if by_prompt else {}
        hits += compare(a, b, resamples=resamples, seed=i, **kw).significant
    return hits / trials


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--prompts", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    se = (0.05 * 0.95 / args.trials) ** 0.5
    print(f"null: two identical deployments, {args.prompts} prompts × {args.repeats} repeats, {args.trials} trials, α = 0.05 "
          f"(an honest rate is 5 % ± {2 * se:.1%} at 2 SE)")  # fmt: skip
    for paired in (True, False):
        design = "same prompts (paired)" if paired else "own prompts each (unpaired)"
        for by_prompt in (False, True):
            rate = false_positive_rate(args.trials, args.seed, args.prompts, args.repeats, paired, by_prompt)
            unit = "prompts" if by_prompt else "requests"
            print(f"  {design:28s} unit = {unit:8s}  false-positive rate {rate:6.1%}")


if __name__ == "__main__":
    main()
