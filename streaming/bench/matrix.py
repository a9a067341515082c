"""The benchmark matrix: its configuration, its expansion into an ordered list of requests, the schedule.

Order: blocked randomisation. Each block is one (repeat, prompt) and holds every cell
(deployment × temperature × mode) once, in a shuffled order; blocks come in a shuffled
prompt order within each repeat. So drift over time spreads evenly across cells, and
streaming and non-streaming are asked the same prompt close together (a paired comparison).
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, ConfigDict, Field, TypeAdapter

from streaming.bench import prompts as P
from streaming.core.config import (
    Deployment,
    find_deployment,
    load_deployments,
)
from streaming.core.validation import validated
from streaming.errors import ConfigError

MODES = ("stream", "non-stream")


MAX_CONCURRENCY = 10_000  # more requests in flight than this is a typo, not a benchmark (and more sockets than a process gets)


MODE_CHOICES = ("stream", "non-stream", "both")


def _unique_deployments(deps: list[Any]) -> list[Any]:
    seen: set[str] = set()
    for d in deps:
        name = d.name if isinstance(d, Deployment) else d
        if not isinstance(name, str) or not name:
            raise ValueError(f"must list names or tables, got {d!r}")
        if name in seen:
            raise ValueError(f"'{name}' is listed twice")
        seen.add(name)
    return deps


def _valid_slos(slos: list[str]) -> list[str]:
    from streaming.analysis.capacity import parse_slo

    for text in slos:
        try:
            parse_slo(text)
        except ConfigError as e:
            raise ValueError(str(e)) from None
    return slos


Count = Annotated[int, Field(ge=1, le=MAX_CONCURRENCY)]
Seconds = Annotated[float, Field(gt=0)]


@dataclass
class BenchConfig:
    """Everything a benchmark run needs; every field has a default (``BenchConfig()`` runs sim-fast).

    The annotations are the schema: ``validate()`` checks them with pydantic (strict: no "8" for 8),
    and every error names the field.
    """

    __pydantic_config__ = ConfigDict(strict=True, revalidate_instances="always")  # not a field (no annotation): for validate()

    deployments: Annotated[list[Any], Field(min_length=1), AfterValidator(_unique_deployments)] = field(default_factory=lambda: ["sim-fast"])
    temperatures: Annotated[list[Annotated[float, Field(ge=0, le=2)] | None], Field(min_length=1)] = field(default_factory=lambda: [None])  # None: the server's default
    mode: Literal["stream", "non-stream", "both"] = "both"
    prompt_set: Literal["short", "medium", "long", "mixed", "conversations"] = "short"  # used when no prompts / prompts_file
    prompts: list[Any] = field(default_factory=list)  # Prompt or str
    prompts_file: str | None = None
    repeats: Annotated[int, Field(ge=1)] = 1
    requests: Annotated[int, Field(ge=1)] | None = None  # total measured requests, cycling through the prompts (overrides repeats)
    concurrency: Count = 8
    ramp_s: Annotated[float, Field(ge=0)] = 0.0  # closed loop: start the workers evenly over this many seconds (0: all at once)
    rate: Annotated[float, Field(gt=0)] | None = None  # requests/s, Poisson arrivals; None: closed loop at `concurrency`
    max_in_flight: Count = 1000  # rate mode: cap on requests in flight (a late send is recorded, never hidden)
    warmup: Annotated[int, Field(ge=0)] = 1  # per deployment, before the measured requests; stored with warmup=1
    max_tokens: Annotated[int, Field(ge=1)] | None = 128
    duration_s: Seconds | None = None  # stop sending new requests after this long
    seed: int = 0
    api: Literal["chat", "responses", "completions"] = "chat"
    system: str | None = None
    timeout_s: Seconds = 120.0  # whole request, retries included
    stall_s: Seconds = 30.0  # longest silence between two reads
    connect_s: Seconds = 10.0
    max_retries: Annotated[int, Field(ge=0)] = 2
    retry_base_s: Annotated[float, Field(ge=0)] = 0.5
    retry_max_wait_s: Annotated[float, Field(ge=0)] = 20.0
    headers: dict[str, str] = field(default_factory=dict)  # added to every request (e.g. x-sim-fault)
    deployments_file: str | None = None
    notes: str = ""
    workers: Annotated[int, Field(ge=1, le=1024)] = 1  # > 1: the load runs on this many Ray worker processes
    ray_address: str | None = None  # join this Ray cluster (else RAY_ADDRESS, else a local one)
    transport: Literal["auto", "wire", "httpx"] = "auto"  # auto: wire (HTTP and HTTPS), httpx2 behind a proxy
    apis: list[Literal["chat", "responses", "completions"]] = field(default_factory=list)  # a matrix dimension; empty: [api]
    reasoning_efforts: list[Literal["minimal", "low", "medium", "high"] | None] = field(default_factory=lambda: [None])  # None: the deployment's

    @property
    def api_choices(self) -> list[str | None]:
        """The APIs of the matrix; None sends each deployment on its own (``Deployment.api``)."""
        if self.apis:
            return list(self.apis)
        return [self.api] if self.api != "chat" else [None]
    slos: Annotated[list[str], AfterValidator(_valid_slos)] = field(default_factory=list)  # "ttft_p95 <= 0.5": goodput counts the requests that meet them all
    stop_on_saturation: bool = False  # stop sending when the run is flagged saturated (a queue building)
    sweep_id: str | None = None  # set by `sweep`: the steps of one sweep share it
    sweep_load: float | None = None  # the step's load (concurrency or rate)
    cache_reuse: bool = True  # False: a unique prefix on every request, so no prompt cache can serve it
    scrape_interval_s: Annotated[float, Field(ge=0)] = 1.0  # the servers' Prometheus metrics every this many seconds (0: none; bench.scrape)
    scrape_timeout_s: Seconds = 2.0  # one scrape's limit: a slower endpoint is a warning, never a slower run

    def validate(self) -> None:
        """A ConfigError naming the first field that does not fit its annotation."""
        validated(_SCHEMA(), self, "bench")

    @property
    def modes(self) -> tuple[str, ...]:
        return MODES if self.mode == "both" else (self.mode,)

    def snapshot(self, deployments: Sequence[Deployment]) -> dict[str, Any]:
        """What is stored on the run: the settings, and the deployments without any secret."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("deployments", "prompts")}
        d["deployments"] = [dep.public_dict() for dep in deployments]
        d["prompts"] = [p.__dict__ if isinstance(p, P.Prompt) else p for p in self.prompts]
        return d


@dataclass(frozen=True)
class WorkItem:
    """One request of the run: which cell, which prompt, its place in the order and its intended send time."""

    seq: int
    deployment: str
    temperature: float | None
    mode: str
    prompt: P.Prompt
    repeat: int
    scheduled_s: float | None = None
    api: str | None = None  # None: the deployment's
    reasoning_effort: str | None = None  # None: the deployment's

    @property
    def cell(self) -> tuple[str, float | None, str]:
        return (self.deployment, self.temperature, self.mode)

    @property
    def pair_id(self) -> str:
        """Same for the streaming and non-streaming twins of one (deployment, temperature, prompt, repeat)."""
        dims = "" if self.api is None and self.reasoning_effort is None else f"|{self.api}|{self.reasoning_effort}"
        return f"{self.deployment}|{self.temperature}|{self.prompt.id}|{self.repeat}{dims}"


@functools.cache
def _SCHEMA() -> TypeAdapter[BenchConfig]:  # noqa: N802 - built once, on first use
    return TypeAdapter(BenchConfig)


def cell_label(deployment: str, temperature: float | None, mode: str) -> str:
    t = "default" if temperature is None or (isinstance(temperature, float) and math.isnan(temperature)) else f"{temperature:g}"
    return f"{deployment} · T={t} · {mode}"


def resolve_deployments(config: BenchConfig) -> list[Deployment]:
    """Names and inline definitions → Deployment objects (ConfigError for an unknown name)."""
    known = load_deployments(config.deployments_file)
    if any(d.provider == "replay" for d in known):  # a run's snapshot says what each replay plays
        from streaming.store.recordings import with_replay_labels

        known = with_replay_labels(known)
    out: list[Deployment] = []
    for d in config.deployments:
        dep = d if isinstance(d, Deployment) else find_deployment(known, str(d))
        if any(o.name == dep.name for o in out):
            raise ConfigError(f"bench: deployment '{dep.name}' is listed twice")
        out.append(dep)
    return out


def resolve_prompts(config: BenchConfig) -> list[P.Prompt]:
    out = _resolve_prompts(config)
    if config.api != "chat" and any(p.messages for p in out):
        raise ConfigError(f"bench: field 'api': conversations (prompts with \"messages\") need the chat API, not '{config.api}'")
    return out


def _resolve_prompts(config: BenchConfig) -> list[P.Prompt]:
    if config.prompts:
        return [p if isinstance(p, P.Prompt) else P.from_value(p, f"bench: prompts[{i}]", f"prompt-{i + 1}") for i, p in enumerate(config.prompts)]
    if config.prompts_file:
        return P.from_file(config.prompts_file)
    return P.builtin(config.prompt_set)


def expand(config: BenchConfig, prompts: Sequence[P.Prompt], deployment_names: Sequence[str] | None = None) -> list[WorkItem]:
    """The measured requests, in the order they will be sent (seeded, interleaved; see the module doc)."""
    if not prompts:
        raise ConfigError("bench: no prompts")
    names = list(deployment_names) if deployment_names is not None else [d.name if isinstance(d, Deployment) else str(d) for d in config.deployments]
    cells = [(d, t, m, a, e) for d in names for t in config.temperatures for m in config.modes
             for a in config.api_choices for e in config.reasoning_efforts]  # fmt: skip
    rng = random.Random(config.seed)
    if config.requests is not None:
        n_blocks = math.ceil(config.requests / len(cells))
    else:
        n_blocks = config.repeats * len(prompts)
    items: list[WorkItem] = []
    block = 0
    repeat = 0
    while block < n_blocks:
        order = list(prompts)
        rng.shuffle(order)
        for prompt in order:
            if block >= n_blocks:
                break
            shuffled = list(cells)
            rng.shuffle(shuffled)
            for d, t, m, a, e in shuffled:
                items.append(WorkItem(len(items), d, t, m, prompt, repeat, None, a, e))
            block += 1
        repeat += 1
    if config.requests is not None:
        items = items[: config.requests]
    if config.rate is not None:
        times = poisson_schedule(len(items), config.rate, config.seed)
        items = [replace(it, scheduled_s=s) for it, s in zip(items, times)]
    return items


def poisson_schedule(n: int, rate: float, seed: int = 0) -> list[float]:
    """Intended send times (s from the start) of ``n`` Poisson arrivals at ``rate`` per second; the first at 0."""
    rng = random.Random(f"poisson-{seed}")
    out, t = [], 0.0
    for _ in range(n):
        out.append(t)
        t += rng.expovariate(rate)
    return out
