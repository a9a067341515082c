"""A benchmark's config resolved once: its deployments, prompts and work items, checked before any request is sent.

``plan_run(config)`` is the one place they are resolved; the runner (``bench.engine``) and the scale-out
driver (``bench.distributed``) receive the ``Plan``, and a scale-out worker receives its share of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from streaming.bench.matrix import BenchConfig, WorkItem, expand, resolve_deployments, resolve_prompts
from streaming.bench.prompts import Prompt
from streaming.core.auth import Credentials
from streaming.core.config import Deployment


@dataclass(frozen=True)
class Plan:
    """What one benchmark runs: its config, its deployments and prompts (resolved), and its work items in send order."""

    config: BenchConfig
    deployments: tuple[Deployment, ...]
    prompts: tuple[Prompt, ...]
    items: tuple[WorkItem, ...]

    def share(self, config: BenchConfig, items: tuple[WorkItem, ...]) -> Plan:
        """One scale-out worker's part: the same deployments and prompts, its own config and items."""
        return replace(self, config=config, items=items)


def plan_run(config: BenchConfig) -> Plan:
    """Validate ``config`` and resolve it; a ConfigError (bad field, unknown deployment, missing key) before any request."""
    config.validate()
    deps = resolve_deployments(config)
    creds = Credentials()
    for d in deps:
        creds.headers(d)  # a missing key is a ConfigError now, before the run exists
    prompts = resolve_prompts(config)
    return Plan(config, tuple(deps), tuple(prompts), tuple(expand(config, prompts, [d.name for d in deps])))


@dataclass(frozen=True)
class WorkerShare:
    """Who one scale-out worker is (its id, its place among the workers) and when to start; its items are its ``Plan``'s.

    ``start_at`` is called in a thread once the worker has warmed up; it returns the clock reading at
    which the measured phase starts, so every worker starts one schedule at the same instant.
    """

    worker: str
    index: int
    of: int
    server_url: str | None
    start_at: Callable[[], float]
