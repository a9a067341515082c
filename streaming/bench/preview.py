"""What a benchmark will do before it starts: how many requests, and about how long, from the deployments' declared profiles."""

from __future__ import annotations

from dataclasses import dataclass

from streaming.bench.matrix import (
    BenchConfig,
    expand,
    resolve_deployments,
    resolve_prompts,
)


@dataclass(frozen=True)
class Preview:
    """The request count of a configuration and an estimated duration (None when no deployment declares a latency profile)."""

    requests: int
    warmup: int
    cells: int
    estimate_s: float | None
    unestimated: tuple[str, ...]  # deployments without a declared profile: left out of the estimate

    def sentence(self) -> str:
        n = f"{self.requests:,} requests in {self.cells} cell{'s' if self.cells != 1 else ''}"
        if self.warmup:
            n += f", plus {self.warmup} warmup"
        if self.estimate_s is None:
            est = "no duration estimate (no deployment here declares a latency profile)"
        else:
            est = f"about {_duration(self.estimate_s)}"
            if self.unestimated:
                est += f" for the simulated part ({', '.join(self.unestimated)} not estimated: no declared latency profile)"
        return f"{n}; {est}."


def _duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s / 60:.1f} min"


def preview(config: BenchConfig) -> Preview:
    """Count the requests ``config`` sends and estimate how long they take.

    One request of a simulated deployment takes TTFT + min(max_tokens, output_tokens) / tokens_per_s.
    Closed loop: the sum over requests divided by min(concurrency, requests). Rate mode: the
    arrivals' span (requests / rate) plus one request's mean duration, whichever is longer.
    Queueing above a deployment's capacity is not modelled: the estimate is a lower bound then.
    """
    deps = {d.name: d for d in resolve_deployments(config)}
    items = expand(config, resolve_prompts(config), list(deps))
    per: dict[str, float] = {}
    missing: list[str] = []
    for name, d in deps.items():
        if d.sim is None:
            missing.append(name)
            continue
        tokens = d.sim.output_tokens if config.max_tokens is None else min(config.max_tokens, d.sim.output_tokens)
        per[name] = d.sim.ttft_ms / 1000.0 + tokens / d.sim.tokens_per_s
    durations = [per[it.deployment] for it in items if it.deployment in per]
    warm = config.warmup * len(deps)
    if not durations:
        return Preview(len(items), warm, len({it.cell for it in items}), None, tuple(missing))
    warm_s = sum(per.get(n, 0.0) * config.warmup for n in deps)
    if config.rate is not None:
        est = max(len(items) / config.rate + sum(durations) / len(durations), sum(durations) / min(config.max_in_flight, len(durations)))
    else:
        est = sum(durations) / min(config.concurrency, len(durations))
    return Preview(len(items), warm, len({it.cell for it in items}), est + warm_s, tuple(missing))
