"""``python -m streaming bench | report | runs``: run a benchmark matrix, report or export a run, list runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
from typing import Any

import numpy as np
import orjson
import pandas as pd

from streaming.analysis.replays import replay_notes
from streaming.analysis.tables import format_summary
from streaming.bench.interrupt import run_interruptibly
from streaming.core.cost import DEFAULT_BUDGET_TOKENS
from streaming.errors import ConfigError


def register(sub: Any) -> None:
    b = sub.add_parser("bench", help="run a benchmark matrix: deployments × temperatures × modes × prompts × repeats")
    b.add_argument("--config", metavar="FILE", help="bench.toml (flags override it)")
    b.add_argument("--deployment", "-d", action="append", metavar="NAME", help="repeatable (default: sim-fast)")
    b.add_argument("--temperature", "-t", metavar="LIST", help="comma-separated, e.g. 0,0.7,1.0; 'default' sends none")
    b.add_argument("--mode", choices=("stream", "non-stream", "both"), help="default: both (paired on the same prompts)")
    b.add_argument("--api", metavar="LIST", help="comma-separated chat,responses,completions: a matrix dimension (default: each deployment's api)")
    b.add_argument("--reasoning-effort", metavar="LIST", help="comma-separated minimal,low,medium,high ('default': the deployment's): a matrix dimension")
    b.add_argument("--prompt-set", choices=("short", "medium", "long", "mixed", "conversations"), help="built-in prompts (default: short)")
    b.add_argument("--prompts", metavar="FILE", help="prompts file: one per line, or JSONL with \"text\" (and \"id\", \"size\")")
    b.add_argument("--repeats", type=int, help="times each prompt is asked per cell (default 1)")
    b.add_argument("--requests", "-n", type=int, help="total measured requests, cycling through the prompts")
    b.add_argument("--concurrency", "-c", type=int, help="requests in flight, closed loop (default 8)")
    b.add_argument("--ramp", type=float, metavar="S", help="closed loop: start the workers evenly over S seconds (default 0)")
    b.add_argument("--rate", type=float, help="requests per second, Poisson arrivals (seeded) instead of a closed loop")
    b.add_argument("--max-in-flight", type=int, help="rate mode: cap on requests in flight (default 1000)")
    b.add_argument("--warmup", type=int, help="warmup requests per deployment, stored apart (default 1)")
    b.add_argument("--max-tokens", type=int, help="default 128")
    b.add_argument("--duration", type=float, metavar="S", help="stop sending new requests after S seconds")
    b.add_argument("--seed", type=int, help="order and arrival seed (default 0)")
    b.add_argument("--timeout", type=float, metavar="S", help="per request, retries included (default 120)")
    b.add_argument("--stall-timeout", type=float, metavar="S", help="longest silence between chunks (default 30)")
    b.add_argument("--retries", type=int, help="retries on 429/5xx/connection errors before the first byte (default 2)")
    b.add_argument("--retry-max-wait", type=float, metavar="S", help="cap on one retry wait, retry-after included (default 20)")
    b.add_argument("--header", action="append", metavar="'NAME: VALUE'", help="extra request header (e.g. 'x-sim-fault: 429')")
    b.add_argument("--notes", help="free text stored on the run")
    b.add_argument("--transport", choices=["auto", "wire", "httpx"],
                   help="how requests are sent and stamped (default auto: wire, for HTTP and HTTPS; httpx2 behind a proxy)")  # fmt: skip
    b.add_argument("--db", metavar="PATH", help="results database (default: $STREAMING_DB or ./data/streaming.db)")
    b.add_argument("--json", action="store_true", help="print the summary as JSON")
    b.add_argument("--fail-if", action="append", default=[], metavar="COND", help="e.g. 'ttft_p95 > 0.8' (seconds); exit 1 when it holds")
    b.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    b.add_argument("--workers", type=int, metavar="N", help="run the load on N worker processes through Ray (default 1: this process)")
    b.add_argument("--ray-address", metavar="ADDRESS", help="with --workers: join this Ray cluster (default: $RAY_ADDRESS, else a local one)")
    b.add_argument("--budget-tokens", type=int, default=DEFAULT_BUDGET_TOKENS, metavar="N",
                   help="cost guard: a run estimated above N tokens on non-built-in deployments needs confirmation (default 200,000)")  # fmt: skip
    b.add_argument("--yes", "-y", action="store_true", help="cost guard: run even above --budget-tokens, without asking")
    b.add_argument("--slo", action="append", default=[], metavar="COND", help="e.g. 'ttft_p95 <= 0.5' (repeatable): goodput counts the requests meeting all")
    b.add_argument("--stop-on-saturation", action="store_true", help="stop sending when latency keeps rising while throughput stays flat")
    b.add_argument("--no-cache-reuse", action="store_true", help="a unique prefix on every request, to measure without prompt caching")
    b.add_argument("--scrape-interval", type=float, metavar="S", help="scrape the servers' Prometheus metrics every S seconds (default 1; 0: off)")
    b.set_defaults(func=cmd_bench)

    r = sub.add_parser("report", help="report or export a run (the latest by default)")
    r.add_argument("run_id", nargs="?", help="run id (see: python -m streaming runs)")
    r.add_argument("--format", "-f", choices=("table", "json", "csv", "parquet", "html"), default="table",
                   help="table: the summary; json/csv/parquet: one row per request; html: self-contained report with charts")  # fmt: skip
    r.add_argument("--out", "-o", metavar="FILE", help="write here instead of stdout (required for parquet; html: default "
                   "streaming-report-RUN_ID.html in the current folder, '-' for stdout)")  # fmt: skip
    r.add_argument("--include-warmup", action="store_true")
    r.add_argument("--db", metavar="PATH")
    r.set_defaults(func=cmd_report)

    u = sub.add_parser("runs", help="list the runs in the results database, or copy one into another (--copy RUN --to FILE)")
    u.add_argument("--db", metavar="PATH")
    u.add_argument("--json", action="store_true")
    u.add_argument("--limit", type=int, default=50)
    u.add_argument("--copy", metavar="RUN_ID", help="copy this run (requests and timelines) into --to: e.g. a recording to replay elsewhere")
    u.add_argument("--to", metavar="FILE", help="the results database to copy into (created when missing)")
    u.set_defaults(func=cmd_runs)


def build_config(args: argparse.Namespace) -> Any:
    from streaming.bench.matrix import BenchConfig
    from streaming.bench.settings import (
        load_config,
        parse_choices,
        parse_headers,
        parse_temperatures,
    )
    from streaming.core.config import APIS, REASONING_EFFORTS

    cfg = load_config(args.config) if args.config else BenchConfig()
    if args.deployments:
        cfg.deployments_file = args.deployments
    overrides = {
        "deployments": args.deployment, "mode": args.mode,
        "repeats": args.repeats, "requests": args.requests, "concurrency": args.concurrency, "ramp_s": args.ramp, "rate": args.rate,
        "max_in_flight": args.max_in_flight, "warmup": args.warmup, "max_tokens": args.max_tokens, "duration_s": args.duration,
        "seed": args.seed, "timeout_s": args.timeout, "stall_s": args.stall_timeout, "max_retries": args.retries,
        "retry_max_wait_s": args.retry_max_wait, "notes": args.notes, "transport": args.transport,
        "workers": getattr(args, "workers", None), "ray_address": getattr(args, "ray_address", None), "scrape_interval_s": getattr(args, "scrape_interval", None),
    }  # fmt: skip
    for k, v in overrides.items():
        if v is not None:
            setattr(cfg, k, v)
    if args.prompts:
        cfg.prompts, cfg.prompts_file = [], args.prompts
    elif args.prompt_set:
        cfg.prompts, cfg.prompts_file, cfg.prompt_set = [], None, args.prompt_set
    if args.temperature is not None:
        cfg.temperatures = parse_temperatures(args.temperature)
    if args.api is not None:
        cfg.apis = parse_choices(args.api, "--api", APIS)
    if args.reasoning_effort is not None:
        cfg.reasoning_efforts = parse_choices(args.reasoning_effort, "--reasoning-effort", REASONING_EFFORTS, default_word=True)
    if getattr(args, "slo", None):
        cfg.slos = list(args.slo)
    if getattr(args, "stop_on_saturation", False):
        cfg.stop_on_saturation = True
    if getattr(args, "no_cache_reuse", False):
        cfg.cache_reuse = False
    cfg.headers.update(parse_headers(args.header))
    cfg.validate()
    return cfg


class TextProgress:
    """A one-line progress bar on stderr (rewritten in place on a terminal, a line per 10% otherwise)."""

    def __init__(self, stream: Any = sys.stderr, width: int = 30) -> None:
        self.stream, self.width = stream, width
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self._last_decile = -1
        self._last_line = ""

    def __call__(self, p: Any) -> None:
        frac = p.done / p.total if p.total else 1.0
        bar = "#" * int(frac * self.width) + "." * (self.width - int(frac * self.width))
        cells = "  ".join(f"{k}: {v.p50_wait_s * 1000:.0f} ms" for k, v in list(p.cells.items())[:4] if v.p50_wait_s is not None)
        line = f"[{bar}] {p.done}/{p.total} errors {p.errors} {p.elapsed_s:5.1f}s  p50 wait {cells}"
        if line == self._last_line:
            return
        self._last_line = line
        if self.tty:
            self.stream.write("\r" + line[:200].ljust(120))
            if p.phase in ("finished", "stopped", "failed"):
                self.stream.write("\n")
        elif int(frac * 10) != self._last_decile or p.phase in ("finished", "stopped", "failed"):
            self._last_decile = int(frac * 10)
            self.stream.write(line + "\n")
        self.stream.flush()


def _jsonable(df: pd.DataFrame) -> list[dict[str, Any]]:
    recs = df.astype(object).where(df.notna(), None).to_dict(orient="records")
    return orjson.loads(orjson.dumps(recs, option=orjson.OPT_SERIALIZE_NUMPY, default=lambda o: None if o is pd.NA else str(o)))


def cmd_bench(args: argparse.Namespace) -> int:
    from streaming.analysis.tables import summarize
    from streaming.bench.gates import failed_conditions, parse_condition
    from streaming.bench.runner import run_benchmark
    from streaming.store import Store, default_db_path, load_requests

    cfg = build_config(args)
    for c in args.fail_if:
        parse_condition(c)  # a typo fails now, not after the run
    from streaming.bench.guard import cost_guard

    refused = cost_guard(cfg, args.budget_tokens, args.yes)
    if refused is not None:
        return refused
    db_path = args.db or default_db_path()
    store = Store(db_path)
    stop = threading.Event()
    run_id = run_interruptibly(lambda: run_benchmark(cfg, store, None if args.quiet else TextProgress(), stop), stop,
                               "stopping: cancelling the requests in flight…")  # fmt: skip
    info = store.run_info(run_id) or {}
    store.close()
    from streaming.analysis.capacity import parse_slos

    summary = summarize(load_requests(db_path, [run_id], timelines=False), parse_slos(cfg.slos))
    failed = failed_conditions(summary, args.fail_if)
    warnings = info.get("warnings") or []
    from streaming.analysis.failures import error_summary
    from streaming.store import load_requests

    rows = load_requests(db_path, [run_id], timelines=False)
    failures = error_summary(rows)  # one sentence per kind, with a request id
    if args.json:
        print(orjson.dumps({"run_id": run_id, "status": info.get("status"), "db": db_path, "warnings": warnings,
                            "loop_lag_p99_ms": info.get("loop_lag_p99_ms"), "failed_conditions": failed, "failures": failures,
                            "summary": _jsonable(summary), "slos": cfg.slos,
                            "saturated": any(w.startswith("saturated") for w in warnings)}, option=orjson.OPT_INDENT_2).decode())  # fmt: skip
    else:
        print(format_summary(summary))
        for note in replay_notes(rows):
            print(f"note: {note}")
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        for line in failures:
            print(f"errors: {line}", file=sys.stderr)
        for f in failed:
            print(f"fail-if: {f}", file=sys.stderr)
        print(f"run {info.get('status')}: {run_id} (database {db_path})")
    return 1 if failed else 0


def cmd_report(args: argparse.Namespace) -> int:
    from streaming.analysis.tables import summarize
    from streaming.store import Store, default_db_path, load_requests

    db_path = args.db or default_db_path()
    with Store(db_path) as st:
        run_id = args.run_id or st.latest_run("bench")
        if run_id is None:
            raise ConfigError(f"no benchmark runs in {db_path}; run one with: python -m streaming bench")
        if st.run_info(run_id) is None:
            raise ConfigError(f"no run '{run_id}' in {db_path}; see: python -m streaming runs")
    df = load_requests(db_path, [run_id], include_warmup=args.include_warmup)
    if args.format == "table":
        from streaming.analysis.capacity import parse_slos

        with Store(db_path) as st:
            slos = parse_slos(((st.run_info(run_id) or {}).get("config") or {}).get("slos") or [])
        text = f"run {run_id}\n" + format_summary(summarize(df, slos)) + "\n" + "".join(f"note: {n}\n" for n in replay_notes(df))
        return _write_text(text, args.out)
    if args.format == "json":
        return _write_text(orjson.dumps(_jsonable(df)).decode() + "\n", args.out)
    if args.format == "html":
        from streaming.analysis.capacity import parse_slos
        from streaming.analysis.report import html_report
        from streaming.bench.scrape import server_side_of  # the report's Server side: scraped metrics, TTFT split, rate limits
        from streaming.bench.sweep import load_sweep
        from streaming.store import list_runs
        from streaming.store.sweeps import run_configs, sweep_of_run

        runs = list_runs(db_path)
        slos = parse_slos(run_configs(db_path, [run_id]).get(run_id, {}).get("slos") or [])
        sweep_id, mine = sweep_of_run(db_path, run_id), runs[runs["run_id"] == run_id]  # a step of a sweep: the report shows its knee
        sweep = load_sweep(db_path, sweep_id) if sweep_id else None
        page = html_report(df, mine, f"Streaming LLM Lab: run {run_id}", slos=slos, sweep=sweep, server=server_side_of(db_path, mine, df))
        if args.out == "-":  # asked for on stdout (a pipe)
            return _write_text(page, None)
        out = args.out or f"streaming-report-{run_id}.html"  # megabytes of HTML (plotly inlined) never go to the terminal
        _write_text(page, out)
        print(f"wrote the HTML report of run {run_id} to {os.path.abspath(out)} ({len(page.encode()) / 1e6:.1f} MB)"
              + ("" if args.out else "; --out FILE writes it elsewhere, --out - to stdout"), file=sys.stderr)  # fmt: skip
        return 0
    flat = df.copy()
    for c in ("chunk_times_s", "chunk_chars", "itl_s"):
        flat[c] = [np.asarray(v).tolist() for v in flat[c]]
    if args.format == "csv":
        for c in ("chunk_times_s", "chunk_chars", "itl_s"):
            flat[c] = [orjson.dumps(v).decode() for v in flat[c]]
        return _write_text(flat.to_csv(index=False), args.out)
    if not args.out:
        raise ConfigError("--format parquet needs --out FILE")
    flat.to_parquet(args.out, index=False)
    print(f"wrote {len(flat)} requests of run {run_id} to {args.out}", file=sys.stderr)
    return 0


def _write_text(text: str, out: str | None) -> int:
    if out:
        with open(out, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_runs(args: argparse.Namespace) -> int:
    from streaming.store import default_db_path, list_runs

    db_path = args.db or default_db_path()
    if args.copy or args.to:
        if not (args.copy and args.to):
            raise ConfigError("--copy RUN_ID and --to FILE go together")
        from streaming.store.copy import copy_run

        n = copy_run(db_path, args.copy, args.to)
        print(f"copied run {args.copy} ({n} requests) from {db_path} to {args.to}")
        return 0
    runs = list_runs(db_path).head(args.limit)
    if args.json:
        print(orjson.dumps(_jsonable(runs), option=orjson.OPT_INDENT_2).decode())
        return 0
    if runs.empty:
        print(f"no runs in {db_path}")
        return 0
    view = runs[["run_id", "created_at", "status", "kind", "n_requests", "n_errors"]].copy()
    view["deployments"] = [", ".join(d) for d in runs["deployments"]]
    view["warnings"] = [len(w) for w in runs["warnings"]]
    print(view.to_string(index=False))
    return 0
