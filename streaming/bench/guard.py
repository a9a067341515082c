"""The cost guard: a run's token and cost estimate on real deployments, checked against a budget before anything is sent."""

from __future__ import annotations

from streaming.bench.matrix import (
    BenchConfig,
    expand,
    resolve_deployments,
    resolve_prompts,
)
from streaming.core.cost import CostEstimate, PlannedRequest, estimate


def estimate_run(config: BenchConfig) -> CostEstimate:
    """What ``config`` will send to non-built-in deployments: its warmup and measured requests (retries not counted)."""
    deps = resolve_deployments(config)
    by_name = {d.name: d for d in deps}
    prompts = resolve_prompts(config)
    items = expand(config, prompts, [d.name for d in deps])
    system = (config.system,) if config.system else ()
    planned = [PlannedRequest(d, system + (prompts[0].text,), config.max_tokens) for d in deps for _ in range(config.warmup)]
    planned += [PlannedRequest(by_name[it.deployment], system + (it.prompt.text,), config.max_tokens) for it in items]
    return estimate(planned)


def needs_confirmation(config: BenchConfig, budget_tokens: int) -> CostEstimate | None:
    """The estimate when the run is above ``budget_tokens``, else None (built-ins only, or within budget)."""
    est = estimate_run(config)
    return est if est.per_deployment and est.over(budget_tokens) else None
