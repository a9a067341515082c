"""The cost guard: a run's token and cost estimate on real deployments, checked against a budget before anything is sent."""

from __future__ import annotations

import sys
from typing import Any

from streaming.bench.matrix import (
    BenchConfig,
    expand,
    resolve_deployments,
    resolve_prompts,
)
from streaming.core.cost import CostEstimate, PlannedRequest, estimate
from streaming.errors import ConfigError


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


def cost_guard(cfg: Any, budget_tokens: int, yes: bool, stdin: Any = None) -> int | None:
    """Before any request: above the budget, ask on a terminal, else refuse (exit code 2) unless --yes. None: go ahead."""
    if budget_tokens < 0:
        raise ConfigError("--budget-tokens must be 0 or more (e.g. --budget-tokens 500000)")
    est = needs_confirmation(cfg, budget_tokens)
    if est is None:
        return None
    if yes:
        print(f"cost guard: {est.sentence()} (above {budget_tokens:,} tokens; going ahead: --yes)", file=sys.stderr)
        return None
    stdin = stdin or sys.stdin
    if stdin.isatty() and sys.stderr.isatty():
        print(f"cost guard: {est.sentence()}, above the budget of {budget_tokens:,} tokens.", file=sys.stderr)
        print("Send these requests? [y/N] ", end="", file=sys.stderr, flush=True)
        if stdin.readline().strip().lower() in ("y", "yes"):
            return None
        print("Not started: nothing was sent.", file=sys.stderr)
        return 2
    print(est.refusal(budget_tokens), file=sys.stderr)
    return 2
