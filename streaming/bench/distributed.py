"""Scale out: one benchmark on N worker processes through Ray; the driver alone writes the store.

Each worker is a Ray actor that runs the asyncio engine (``bench.engine.run_plan`` on its share of the
``Plan``, with a ``WorkerShare``), with its own connection pool and its own event-loop lag self-check.
The workload is split so the combined load is the one asked for:

- the matrix is expanded once, in the driver (blocked randomisation, global ``seq``), and
  dealt round-robin, so every worker sends its items in the global order;
- closed loop: the concurrency is divided among the workers (the remainder to the first
  ones), and ``--ramp`` start times interleave across workers;
- open loop: the one global Poisson schedule is interleaved (item k to worker k mod N),
  so the arrivals the server sees are the same process; every worker starts it at the
  same instant, after all have warmed up (a barrier), converted to its own monotonic clock.

Records come back in batches (each worker is polled every ``POLL_S``), and the driver
writes them as they arrive. If a worker dies, what it had handed over is kept, the run's
warnings name it, and the others finish. Each record carries ``worker`` and ``host``;
its durations are the worker's own monotonic deltas, and its ``clock_offset_s`` (the worker's
``time.time() − clock()``) puts its send and end on the shared wall clock, which spans across
workers need (``analysis.spans``). Stop (Ctrl-C, the Benchmark page) reaches every worker.

The servers' metrics (``bench.scrape``) are scraped by the driver, once per metrics URL however many
workers there are, from the agreed start instant on: each sample's ``t_s`` is on the driver's clock,
seconds since that instant, which is the instant every worker's ``sent_s`` counts from.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from streaming.bench.engine import run_plan
from streaming.bench.matrix import cell_label
from streaming.bench.plan import Plan, WorkerShare
from streaming.bench.progress import BenchPoint, Progress, Tally
from streaming.bench.scrape import scraper_for
from streaming.core.record import StreamRecord
from streaming.errors import ConfigError
from streaming.store import Store


POLL_S = 0.1
START_MARGIN_S = 0.3  # the barrier's go is this far ahead, so every worker gets it before the instant


class _Sink:
    """The store interface a worker's runner writes to: records are buffered for the driver to collect."""

    def __init__(self, run_id: str, buffer: list[tuple[StreamRecord, dict[str, Any]]], lock: threading.Lock) -> None:
        self.run_id, self.buffer, self.lock = run_id, buffer, lock
        self.result: dict[str, Any] = {}

    def create_run(self, *args: Any, **kw: Any) -> str:
        return self.run_id

    def add_record(self, run_id: str, record: StreamRecord, **extra: Any) -> int:
        with self.lock:
            self.buffer.append((record, extra))
        return 0

    def add_records(self, run_id: str, items: Iterable[tuple[StreamRecord, dict[str, Any]]]) -> int:
        """What the runner's writer gathered while the previous batch was taken (its group commit)."""
        items = list(items)
        with self.lock:
            self.buffer.extend(items)
        return len(items)

    def finish_run(self, run_id: str, status: str = "finished", *, warnings: list[str] | None = None, loop_lag_p99_ms: float | None = None,
                   notes: str | None = None) -> None:  # fmt: skip
        self.result = {"status": status, "warnings": list(warnings or []), "loop_lag_p99_ms": loop_lag_p99_ms}


class BenchWorker:
    """A Ray actor (threaded: ``run`` in one thread; ``drain``, ``go`` and ``stop`` answer while it runs)."""

    def __init__(self) -> None:
        self._buffer: list[tuple[StreamRecord, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._go = threading.Event()
        self._start_wall = 0.0
        self._warm = False
        self._cpu0 = time.process_time()
        self._clock: Callable[[], float] = time.perf_counter

    def info(self) -> dict[str, Any]:
        return {"pid": os.getpid(), "host": socket.gethostname()}

    def run(self, plan: Plan, run_id: str, worker: str, index: int, of: int, server_url: str | None,
            clock: Callable[[], float] | None = None) -> dict[str, Any]:  # fmt: skip
        self._clock = clock or time.perf_counter
        sink = _Sink(run_id, self._buffer, self._lock)
        share = WorkerShare(worker=worker, index=index, of=of, server_url=server_url, start_at=self._wait_for_go)
        self._cpu0 = time.process_time()
        run_plan(plan, sink, stop=self._stop, clock=self._clock, share=share)  # type: ignore[arg-type]
        return {**sink.result, "cpu_s": time.process_time() - self._cpu0}

    def _wait_for_go(self) -> float:
        self._warm = True
        self._go.wait()
        return self._clock() + (self._start_wall - time.time())  # the driver's wall-clock instant on this worker's clock

    def drain(self) -> tuple[list[tuple[StreamRecord, dict[str, Any]]], bool, float]:
        """Records finished since the last call, whether the worker has warmed up, and its CPU seconds so far."""
        with self._lock:
            out, self._buffer[:] = list(self._buffer), []
        return out, self._warm, time.process_time() - self._cpu0

    def go(self, start_wall: float) -> None:
        self._start_wall = start_wall
        self._go.set()

    def stop(self) -> None:
        self._stop.set()
        self._go.set()


def _ray() -> Any:
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is in requirements.txt
        raise ConfigError("--workers needs the ray package: pip install -r requirements.txt") from None
    return ray


def connect(address: str | None = None) -> Any:
    """Ray, initialised: the cluster at ``address`` (or ``RAY_ADDRESS``), else a local one on this machine.

    To a cluster at an address the ``streaming`` package travels with the job (``py_modules``), so
    its machines need only the requirements installed, not this checkout. A local cluster's workers
    import it from where this process does (the job's ``code_search_path``), so they start without
    the runtime-env step (a second interpreter and an unpacked copy per worker). A local cluster also
    offers no CPUs: the bench actors ask for none (they wait on sockets), and then Ray prestarts no
    idle workers, which the actors would not use. It starts in about 3.5 s instead of 5.3 here.
    """
    ray = _ray()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        pkg = str(Path(__file__).resolve().parents[1])
        if address is None:
            where: dict[str, Any] = {"num_cpus": 0, "job_config": ray.job_config.JobConfig(code_search_path=[str(Path(pkg).parent)])}
        else:
            where = {"runtime_env": {"py_modules": [pkg]}}
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False, **where)
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise ConfigError(f"--ray-address {address!r}: could not join the Ray cluster ({e})") from None
    return ray


def split_concurrency(total: int, n: int) -> list[int]:
    """``total`` slots over ``n`` workers, as even as possible (the first ones take the remainder)."""
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def run_distributed(plan: Plan, db: Store, progress: Callable[[Progress], None] | None = None,
                    stop: threading.Event | None = None, stats: dict[str, Any] | None = None,
                    clocks: Sequence[Callable[[], float]] | None = None) -> str:  # fmt: skip
    """Run ``plan`` (from ``plan_run``) on ``plan.config.workers`` Ray workers, storing every request in ``db``; returns the run id.

    ``stats``, when given, is filled with each worker's CPU seconds and loop lag, and Ray's start-up time.
    ``clocks``: each worker's monotonic clock (default ``time.perf_counter``), e.g. one offset as another host's would be.
    """
    config, deps, items = plan.config, plan.deployments, plan.items
    n = min(config.workers, max(1, len(items)))
    server_url = None
    if any(d.builtin for d in deps):
        from streaming.server.launcher import ensure_server, warm_local

        server_url = ensure_server(config.deployments_file).url
        if any(d.provider == "local" for d in deps):
            warm_local(server_url)
    t_ray = time.perf_counter()
    ray = connect(config.ray_address)
    if stats is not None:
        stats["ray_init_s"] = time.perf_counter() - t_ray
        stats["workers"] = {}
    stop = stop or threading.Event()
    snapshot = {**config.snapshot(deps), "workers": n, "ray_address": config.ray_address or os.environ.get("RAY_ADDRESS")}
    run_id = db.create_run("bench", snapshot, notes=config.notes, deployments=[d.name for d in deps])
    actor_cls = ray.remote(max_concurrency=4, num_cpus=0)(BenchWorker)
    concurrency = split_concurrency(config.concurrency, n)
    actors, futures, names = [], {}, [f"w{i}" for i in range(n)]
    for i in range(n):
        a = actor_cls.options(name=f"bench-{run_id}-{names[i]}").remote()  # named: findable (ray list actors) while it runs
        share_cfg = replace(config, workers=1, concurrency=max(1, concurrency[i]), max_in_flight=max(1, config.max_in_flight // n))
        clock = clocks[i] if clocks is not None else None
        futures[a.run.remote(plan.share(share_cfg, items[i::n]), run_id, names[i], i, n, server_url, clock)] = i
        actors.append(a)
    tally = Tally(len(items))
    warnings: list[str] = []
    alive = set(range(n))
    warm: set[int] = set()
    started = False
    t0 = time.monotonic()
    kept = [0] * n
    lag: list[float] = []
    stopped_sent = False

    def collect(i: int) -> bool:
        """Write what worker ``i`` has finished; False when it is gone."""
        try:
            batch, is_warm, _cpu = ray.get(actors[i].drain.remote(), timeout=30)
        except Exception:
            return False
        for rec, extra in batch:
            db.add_record(run_id, rec, **extra)
            if not extra.get("warmup"):
                mode = extra.get("mode") or ("stream" if rec.stream else "non-stream")
                wait = rec.perceived_wait_s
                tally.add(BenchPoint(int(extra.get("seq") or 0), time.monotonic() - t0, extra.get("sent_s"), extra.get("scheduled_s"),
                                     cell_label(rec.deployment, rec.temperature, mode), rec.deployment, mode, rec.status,
                                     wait if rec.ok and wait is not None else None))  # fmt: skip
            kept[i] += 0 if extra.get("warmup") else 1
        if is_warm:
            warm.add(i)
        return True

    def worker_died(i: int, why: str) -> None:
        alive.discard(i)
        sent = len(items[i::n])
        warnings.append(f"worker {names[i]} died ({why}); its {kept[i]} finished request(s) are kept, "
                        f"{sent - kept[i]} of its {sent} were not recorded")  # fmt: skip

    scraper = scraper_for(db, run_id, deps, server_url, config.scrape_interval_s, config.scrape_timeout_s)  # the driver's, not the workers'
    pending = dict(futures)
    status = "finished"
    try:
        while pending:
            if stop.is_set() and not stopped_sent:
                stopped_sent = True
                for i in alive:
                    actors[i].stop.remote()
            done, _ = ray.wait(list(pending), timeout=POLL_S, num_returns=len(pending))
            for i in sorted(alive):
                collect(i)  # a worker that cannot answer is judged when its run() ends
            for f in done:
                i = pending.pop(f)
                try:
                    result = ray.get(f)
                except Exception as e:  # the actor died (killed, OOM, its node lost)
                    worker_died(i, type(e).__name__)
                    continue
                collect(i)
                if stats is not None:
                    stats["workers"][names[i]] = {"cpu_s": result.get("cpu_s"), "loop_lag_p99_ms": result.get("loop_lag_p99_ms")}
                warnings.extend(f"worker {names[i]}: {w}" for w in result.get("warnings", []))
                if result.get("loop_lag_p99_ms") is not None:
                    lag.append(float(result["loop_lag_p99_ms"]))
                if result.get("status") == "stopped":
                    status = "stopped"
            if not started and alive and alive <= warm:
                started = True
                start_wall = time.time() + START_MARGIN_S
                for i in alive:
                    actors[i].go.remote(start_wall)
                if scraper is not None:  # the agreed instant on this process's clock: the run clock's zero, as on every worker
                    scraper.start(origin=time.perf_counter() + (start_wall - time.time()))
            if progress is not None:
                progress(tally.snapshot(run_id, "running" if started else "warmup", time.monotonic() - t0, warnings))
    except KeyboardInterrupt:
        for i in alive:
            actors[i].stop.remote()
        status = "stopped"
        raise
    finally:
        if not alive:
            status = "failed"
        elif stop.is_set():
            status = "stopped"
        if scraper is not None:
            warnings += scraper.stop()
        db.finish_run(run_id, status, warnings=warnings, loop_lag_p99_ms=max(lag) if lag else None)
        if progress is not None:
            progress(tally.snapshot(run_id, status, time.monotonic() - t0, warnings))
        for a in actors:
            try:
                ray.kill(a)
            except Exception:
                pass
    return run_id
