"""``python -m streaming sweep``: capacity under an SLO.

The benchmark matrix is run at a rising load (concurrency 1, 2, 4, … or a rate doubling from
``start``) until an SLO breaks or the deployment saturates, then bisected to the edge. Each step
is a run in the database whose config carries the sweep's id and the step's load; a stopped
sweep keeps its finished steps. The figures come from ``analysis.sweep``.
"""

from __future__ import annotations

import argparse
import math
import secrets
import sys
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from streaming.analysis.capacity import parse_slos
from streaming.analysis.sweep import Step, SweepResult, step_from_run
from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.errors import ConfigError
from streaming.store import Store, load_requests

RATE_PRECISION = 0.1  # rate bisection stops when the bracket is within 10 %


def requests_for(slos: list[Any]) -> int:
    """Enough requests for the SLOs' highest percentile: at least 20 / (1 − q) (p95: 400; p99: 2,000), and 20 for none."""
    qs = [s.quantile for s in slos if s.quantile is not None]
    return max(20, *(math.ceil(20 / (1 - q) - 1e-9) for q in qs)) if qs else 20


def run_sweep(base: BenchConfig, db: Store, slos_text: list[str], by: str = "concurrency", max_load: float = 64,
              start: float | None = None, requests_per_step: int | None = None, stop: threading.Event | None = None,
              on_step: Callable[[Step], None] | None = None) -> SweepResult:  # fmt: skip
    """Run the sweep, one stored run per step; returns its result (partial, ``stopped``, when ``stop`` is set)."""
    slos = parse_slos(slos_text)
    if not slos:
        raise ConfigError("sweep: give at least one --slo, e.g. --slo \"ttft_p95 <= 0.5\"")
    if by not in ("concurrency", "rate"):
        raise ConfigError(f"sweep: --by must be concurrency or rate, got {by!r}")
    if len(base.deployments) != 1:
        raise ConfigError("sweep: give exactly one --deployment")
    start = start if start is not None else 1.0
    if not 0 < start <= max_load:
        raise ConfigError(f"sweep: the start load ({start:g}) must be above 0 and at most the maximum ({max_load:g})")
    n = requests_per_step or requests_for(slos)
    stop = stop or threading.Event()
    result = SweepResult(by, slos, sweep_id=secrets.token_hex(4))
    tried: dict[float, Step] = {}

    def step(load: float) -> Step:
        cfg = replace(base, requests=n, slos=list(slos_text), sweep_id=result.sweep_id, sweep_load=load,
                      warmup=base.warmup if not tried else 0, headers=dict(base.headers),
                      notes=(base.notes + " " if base.notes else "") + f"sweep {result.sweep_id}: {by} {load:g}")  # fmt: skip
        if by == "concurrency":
            cfg.concurrency, cfg.rate = int(load), None
        else:
            cfg.rate = load
        run_id = run_benchmark(cfg, db, None, stop)
        info = db.run_info(run_id) or {}
        df = load_requests(db.path, [run_id], timelines=False)
        s = step_from_run(df, load, run_id, slos, info.get("loop_lag_p99_ms"), str(info.get("status")))
        if s.status != "stopped":
            tried[load] = s
            result.steps.append(s)
        if on_step is not None:
            on_step(s)
        return s

    # 1. rising load: double until an SLO breaks, the deployment saturates, or the maximum
    lo: float | None = None
    hi: float | None = None
    load = start
    while not stop.is_set():
        s = step(load)
        if stop.is_set():
            break
        if not s.holds:
            hi = load
            break
        lo = load
        if result.saturated_at is not None or load >= max_load:
            break
        load = min(max_load, load * 2)
    # 2. bisect between the highest load that held and the lowest that broke
    if lo is not None and hi is not None:
        while not stop.is_set():
            if by == "concurrency":
                if hi - lo <= 1:
                    break
                mid = float((int(lo) + int(hi)) // 2)
            else:
                if hi / lo <= 1 + RATE_PRECISION:
                    break
                mid = round((lo + hi) / 2, 3)
            s = step(mid)
            if stop.is_set():
                break
            if s.holds:
                lo = mid
            else:
                hi = mid
    result.stopped = stop.is_set()
    return result


def load_sweep(db_path: str | None, sweep_id: str) -> SweepResult:
    """A stored sweep rebuilt from its runs' requests (steps, edge, saturation): for the report and the Metrics page."""
    from streaming.analysis.sweep import sweep_from_runs
    from streaming.store.sweeps import sweep_runs

    runs, configs = sweep_runs(db_path, sweep_id)
    return sweep_from_runs(load_requests(db_path, list(runs["run_id"]), timelines=False), runs, configs)


def register(sub: Any) -> None:

    w = sub.add_parser("sweep", help="capacity under an SLO: a rising load until the SLO breaks or throughput stops rising, then bisection")
    w.add_argument("--deployment", "-d", required=True, metavar="NAME")
    w.add_argument("--slo", action="append", default=[], metavar="COND", help="e.g. 'ttft_p95 <= 0.5' (repeatable; metrics as in --fail-if)")
    w.add_argument("--by", choices=("concurrency", "rate"), default="concurrency")
    w.add_argument("--max-concurrency", type=int, metavar="N", help="highest concurrency tried (default 64)")
    w.add_argument("--max-rate", type=float, metavar="R", help="highest rate tried, requests/s (default 64)")
    w.add_argument("--start", type=float, metavar="LOAD", help="first load (default 1)")
    w.add_argument("--requests-per-step", type=int, metavar="N", help="default: enough for the SLO's percentile, 20 / (1 − q)")
    w.add_argument("--prompt-set", choices=("short", "medium", "long", "mixed", "conversations"), default="short")
    w.add_argument("--prompts", metavar="FILE")
    w.add_argument("--max-tokens", type=int, default=None, help="default 128")
    w.add_argument("--warmup", type=int, default=1, help="warmup requests before the first step (default 1)")
    w.add_argument("--timeout", type=float, metavar="S", help="per request (default 120)")
    w.add_argument("--retries", type=int, help="retries on 429/5xx before the first byte (default 2)")
    w.add_argument("--header", action="append", metavar="'NAME: VALUE'")
    w.add_argument("--seed", type=int, default=0)
    w.add_argument("--db", metavar="PATH")
    w.add_argument("--json", action="store_true", help="print the result as one JSON object")
    w.add_argument("--quiet", "-q", action="store_true", help="no line per step")
    w.add_argument("--workers", type=int, metavar="N", help="run each step on N worker processes through Ray (default 1: this process)")
    w.add_argument("--ray-address", metavar="ADDRESS", help="with --workers: join this Ray cluster (default: $RAY_ADDRESS, else a local one)")
    w.add_argument("--budget-tokens", type=int, default=None, metavar="N",
                   help="cost guard: a sweep estimated above N tokens on non-built-in deployments needs confirmation (default 200,000)")  # fmt: skip
    w.add_argument("--yes", "-y", action="store_true", help="cost guard: run even above --budget-tokens, without asking")
    w.add_argument("--scrape-interval", type=float, metavar="S", help="scrape the server's Prometheus metrics every S seconds (default 1; 0: off)")
    w.set_defaults(func=cmd_sweep)


def _cost_guard(cfg: BenchConfig, args: argparse.Namespace, max_load: float) -> int | None:
    """The bench cost guard over the sweep's most requests: doubling from --start to the top, then bisecting back."""
    import math

    from streaming.bench.guard import cost_guard
    from streaming.core.cost import DEFAULT_BUDGET_TOKENS

    start = max(1.0, float(args.start or 1))
    steps = 2 * (math.ceil(math.log2(max(max_load / start, 1.0))) + 1)
    per_step = args.requests_per_step or 200
    return cost_guard(replace(cfg, requests=steps * per_step), DEFAULT_BUDGET_TOKENS if args.budget_tokens is None else args.budget_tokens, args.yes)


def cmd_sweep(args: argparse.Namespace) -> int:
    from streaming.store import default_db_path

    if args.by == "concurrency" and args.max_rate is not None:
        raise ConfigError("--max-rate goes with --by rate; with --by concurrency give --max-concurrency")
    if args.by == "rate" and args.max_concurrency is not None:
        raise ConfigError("--max-concurrency goes with --by concurrency; with --by rate give --max-rate")
    max_load = float(args.max_concurrency if args.by == "concurrency" and args.max_concurrency else args.max_rate or 64)
    if args.requests_per_step is not None and args.requests_per_step < 1:
        raise ConfigError("--requests-per-step must be at least 1")
    cfg = BenchConfig(deployments=[args.deployment], mode="stream", warmup=args.warmup, seed=args.seed,
                      deployments_file=args.deployments, prompt_set=args.prompt_set, prompts_file=args.prompts)  # fmt: skip
    if args.max_tokens is not None:
        cfg.max_tokens = args.max_tokens
    if args.timeout is not None:
        cfg.timeout_s = args.timeout
    if args.retries is not None:
        cfg.max_retries = args.retries
    from streaming.bench.settings import parse_headers

    cfg.headers.update(parse_headers(args.header))
    if args.workers is not None:
        cfg.workers = args.workers
    if args.ray_address is not None:
        cfg.ray_address = args.ray_address
    if args.scrape_interval is not None:
        cfg.scrape_interval_s = args.scrape_interval
    cfg.validate()
    refused = _cost_guard(cfg, args, max_load)
    if refused is not None:
        return refused
    db_path = args.db or default_db_path()
    unit = "concurrency" if args.by == "concurrency" else "rate"

    def show(s: Step) -> None:
        if args.quiet:
            return
        figures = ", ".join(f"{r.slo.metric} {r.estimate.value:.3g} [{r.estimate.lo:.3g}–{r.estimate.hi:.3g}]" for r in s.slos)
        verdict = ("holds" if s.holds else "breaks") + ("" if s.certain else " (uncertain)")
        print(f"{unit} {s.load:g}: n={s.n} {figures} → {verdict}; {s.throughput.get('requests_per_s', math.nan):.2f} req/s, "
              f"{s.throughput.get('output_tokens_per_s', math.nan):.1f} output tok/s", file=sys.stderr, flush=True)  # fmt: skip

    from streaming.bench.interrupt import run_interruptibly

    stop = threading.Event()
    with Store(db_path) as db:
        result: SweepResult = run_interruptibly(lambda: run_sweep(cfg, db, args.slo, args.by, max_load, args.start, args.requests_per_step, stop, show),
                                                stop, "stopping the sweep: finished steps are kept…")  # fmt: skip
    out = result.to_dict()
    out["db"] = db_path
    if args.json:
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
    else:
        key = "max_concurrency_within_slo" if args.by == "concurrency" else "max_rate_within_slo"
        print(f"{key}: {out[key]}")
        print(f"edge: {out['edge']['sentence']}")
        print(f"saturated_at: {out['saturated_at']}")
        print(f"client_limited: {str(out['client_limited']).lower()}")
        print(f"capacity: {out['headline']}")
        print(f"sweep {result.sweep_id}{' (stopped)' if result.stopped else ''}: {len(result.steps)} steps in {db_path}")
    return 0
