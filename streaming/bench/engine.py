"""The benchmark engine: one resolved ``Plan`` run over asyncio, every request stored as it finishes.

Closed loop at ``concurrency``, or Poisson arrivals at ``rate`` with each request's intended and
actual send time recorded (coordinated omission is reported, not hidden). The runner
watches its own event-loop lag and warns when the client may be the bottleneck.
Retries (429/5xx, honouring retry-after) happen inside the request's own slot, so
they never add load; their count and waits are stored beside TTFT, never in it.
The pieces that stand alone (requests, self-checks, saturation, progress types, conversation turns)
live in their own modules; ``bench.runner.run_benchmark`` is the entry.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from streaming.bench.conversation import turn_histories, unique_prefix
from streaming.bench.matrix import WorkItem, cell_label
from streaming.bench.plan import Plan, WorkerShare
from streaming.bench.progress import BenchPoint, Progress, Tally
from streaming.bench.requests import request_for
from streaming.bench.saturation import SaturationWatch
from streaming.bench.scrape import Scraper, scraper_for
from streaming.bench.selfcheck import (  # noqa: F401 - public here too
    LOOP_LAG_MIN_SAMPLES,
    LOOP_LAG_WARN_MS,
    loop_lag_warning,
    send_lag_warning,
)
from streaming.core.client import AsyncClient
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.core.transport import transport_version
from streaming.store import Store

LAG_INTERVAL_S = 0.01


PROGRESS_EVERY_S = 0.1


Clock = Callable[[], float]


def wall_offset(clock: Clock, wall: Clock = time.time) -> float:
    """``wall() − clock()`` read back to back (the tighter of three tries): a clock reading plus it is wall-clock time."""
    best = (math.inf, 0.0)
    for _ in range(3):
        a = clock()
        w = wall()
        b = clock()
        best = min(best, (b - a, w - (a + b) / 2))
    return best[1]


def run_plan(plan: Plan, db: Store, progress: Callable[[Progress], None] | None = None, stop: threading.Event | None = None,
             clock: Clock = time.perf_counter, share: WorkerShare | None = None) -> str:  # fmt: skip
    """Run ``plan`` on this process, storing every request in ``db``; returns the run id. ``stop`` ends it early (kept, marked stopped).

    ``share``: when this process is one scale-out worker (``bench.distributed``), its id, and when to start.
    """
    runner = _Runner(plan, db, progress, stop or threading.Event(), clock)
    runner.share = share
    return asyncio.run(runner.main())


class _Runner:
    def __init__(self, plan: Plan, db: Store, progress: Callable[[Progress], None] | None, stop: threading.Event, clock: Clock) -> None:
        self.cfg, self.db, self.deps, self.items = plan.config, db, list(plan.deployments), plan.items
        self.warm_prompt = plan.prompts[0].text
        self.progress_cb, self.stop, self.clock = progress, stop, clock
        self.run_id = ""
        self.phase = "warmup"
        self.tally = Tally(sum(max(1, it.prompt.turns) for it in self.items))  # a conversation is one request per turn
        self.points = self.tally.points  # the same list, growing (saturation and the send-lag check read it)
        self.warnings: list[str] = []
        self.lags: list[float] = []
        self.start = 0.0
        self.clock_offset = 0.0  # time.time() − clock(): this process's wall-clock anchor, stored with every request
        self._last_emit = 0.0
        self._stopping = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self.cancelled_in_flight = 0
        # SQLite commits (and WAL checkpoints, which fsync) run on a writer thread, never on the event loop
        self._writes: queue.SimpleQueue[tuple[StreamRecord, dict[str, Any]] | None] = queue.SimpleQueue()
        self._write_error: BaseException | None = None
        self._writer = threading.Thread(target=self._write_loop, name="bench-writer", daemon=True)
        self.share: WorkerShare | None = None
        self.saturation = SaturationWatch()
        self.scraper: Scraper | None = None

    def _write_loop(self) -> None:
        """Commit each finished request as soon as it is queued; what queued up meanwhile goes in one transaction
        (group commit), so a writer slowed by a loaded machine catches up instead of falling further behind a kill."""
        while True:
            batch, job = [], self._writes.get()
            while job is not None:
                batch.append(job)
                try:
                    job = self._writes.get_nowait()
                except queue.Empty:
                    break
            if batch and self._write_error is None:
                try:
                    self.db.add_records(self.run_id, batch)
                except BaseException as e:  # surfaced by main() when the run ends
                    self._write_error = e
            if job is None:
                return

    async def main(self) -> str:
        cfg = self.cfg
        server_url = self.share.server_url if self.share is not None else None
        if any(d.builtin for d in self.deps) and self.share is None:
            from streaming.server.launcher import ensure_server, warm_local

            server_url = await asyncio.to_thread(lambda: ensure_server(cfg.deployments_file).url)
            if any(d.provider == "local" for d in self.deps):
                await asyncio.to_thread(warm_local, server_url)
        pool = cfg.max_in_flight if cfg.rate is not None else cfg.concurrency
        client = AsyncClient(self.deps, server_url=server_url, max_connections=pool, clock=self.clock, transport=cfg.transport,
                             timeouts=Timeouts(connect_s=cfg.connect_s, stall_s=cfg.stall_s),
                             retry=RetryPolicy(max_retries=cfg.max_retries, base_s=cfg.retry_base_s, max_wait_s=cfg.retry_max_wait_s),
                             worker=self.share.worker if self.share is not None else None)  # fmt: skip
        snap = cfg.snapshot(self.deps)  # which transport measured each deployment, with its package version
        chosen = {d.name: client.transport_for(d.url("chat", server_url if d.builtin else None)) for d in self.deps}
        snap["transports"] = {name: f"{t} ({transport_version(t)})" for name, t in chosen.items()}
        snap["prompt_texts"] = {it.prompt.id: it.prompt.text[:2000] for it in self.items}  # what a replay of this run matches questions against
        self.run_id = self.db.create_run("bench", snap, notes=cfg.notes, deployments=[d.name for d in self.deps])
        status = "failed"
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(self._loop_exception)
        watcher = asyncio.create_task(self._watch_stop())
        self._writer.start()
        self.clock_offset = wall_offset(self.clock)
        try:
            await self._warmup(client)
            self.phase = "running"
            gc.collect()
            gc.freeze()  # what exists now is never scanned again: full collections stay short during the run
            if self.share is None:  # the servers' side, on its own threads (README: "Server side"), built before the clock starts
                self.scraper = scraper_for(self.db, self.run_id, self.deps, server_url, cfg.scrape_interval_s, cfg.scrape_timeout_s, self.clock)
            lag = asyncio.create_task(self._lag_monitor())
            self.start = self.clock()
            if self.scraper is not None:
                self.scraper.start(origin=self.start)
            if self.share is not None and not self._stopping:  # every worker starts the one schedule at the same instant
                self.start = await asyncio.to_thread(self.share.start_at)
                while not self._stopping and (delay := self.start - self.clock()) > 0:
                    await asyncio.sleep(min(delay, 0.05))
            if cfg.rate is None:
                await self._closed_loop(client)
            else:
                await self._open_loop(client)
            lag.cancel()
            status = "stopped" if self._stopping else "finished"
        finally:
            gc.unfreeze()
            watcher.cancel()
            if self.scraper is not None:
                self.warnings += self.scraper.stop()
            await client.aclose()
            self._writes.put(None)
            await asyncio.to_thread(self._writer.join)
            if self._write_error is not None:
                status = "failed"
                self.warnings.append(f"requests could not be saved: {self._write_error}")
            self.saturation.update(self.points, self.warnings, None, final=True)
            lag_p99 = self._lag_report()
            self._send_lag_report()
            if self.cancelled_in_flight:
                self.warnings.append(f"stopped: {self.cancelled_in_flight} request(s) in flight were cancelled and not stored")
            self.phase = status
            self.db.finish_run(self.run_id, status, warnings=self.warnings, loop_lag_p99_ms=lag_p99)
            self._emit(force=True)
        if self._write_error is not None:
            raise self._write_error
        return self.run_id

    def _loop_exception(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if self._stopping and "never retrieved" in str(context.get("message", "")):
            return  # connections cut by Stop leave orphaned read futures; nothing was lost
        loop.default_exception_handler(context)

    # -- phases -------------------------------------------------------------------------------
    async def _warmup(self, client: AsyncClient) -> None:
        from streaming.bench.prompts import Prompt

        prompt = Prompt("warmup", self.warm_prompt, "custom")
        n = 0
        for dep in self.deps:
            for _ in range(self.cfg.warmup):
                if self._stopping:
                    return
                n -= 1
                item = WorkItem(n, dep.name, self.cfg.temperatures[0], self.cfg.modes[0], prompt, -1)
                await self._one(client, item, warmup=True)

    async def _closed_loop(self, client: AsyncClient) -> None:
        queue = iter(self.items)

        n_workers = min(self.cfg.concurrency, len(self.items))

        async def worker(i: int) -> None:
            if self.cfg.ramp_s > 0:  # staggered starts: the first tokens of a wave do not all land at once
                k, n = (self.share.index, self.share.of) if self.share is not None else (0, 1)
                await asyncio.sleep(self.cfg.ramp_s * (i * n + k) / (n_workers * n))  # interleaved across workers
            for item in queue:  # a shared iterator: each item goes to exactly one worker
                if self._should_stop_sending():
                    return
                await self._one(client, item)

        workers = [asyncio.create_task(worker(i)) for i in range(n_workers)]
        self._tasks.update(workers)
        await asyncio.gather(*workers, return_exceptions=True)

    async def _open_loop(self, client: AsyncClient) -> None:
        slots = asyncio.Semaphore(self.cfg.max_in_flight)

        async def send(item: WorkItem) -> None:
            try:
                await self._one(client, item)
            finally:
                slots.release()

        for item in self.items:
            due = self.start + (item.scheduled_s or 0.0)
            while not self._stopping and (delay := due - self.clock()) > 0:
                await asyncio.sleep(min(delay, 0.1))
            await slots.acquire()  # when full, the send is late; sent_s - scheduled_s shows by how much
            if self._should_stop_sending():
                slots.release()
                break
            task = asyncio.create_task(send(item))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _should_stop_sending(self) -> bool:
        d = self.cfg.duration_s
        return self._stopping or (d is not None and self.clock() - self.start >= d)

    async def _watch_stop(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(0.05)
        self._stopping = True
        for t in list(self._tasks):
            t.cancel()

    async def _lag_monitor(self) -> None:
        while True:
            t = self.clock()
            await asyncio.sleep(LAG_INTERVAL_S)
            self.lags.append(max(0.0, self.clock() - t - LAG_INTERVAL_S))

    def _lag_report(self) -> float | None:
        if not self.lags:
            return None
        warning = loop_lag_warning(self.lags)
        if warning:
            self.warnings.append(warning)
        return float(np.percentile(self.lags, 99)) * 1000

    def _send_lag_report(self) -> None:
        warning = send_lag_warning([lag for p in self.points if (lag := p.schedule_lag_s) is not None])
        if warning:
            self.warnings.append(warning)

    # -- one request ------------------------------------------------------------------------------
    def _request(self, item: WorkItem, messages: list[dict[str, Any]] | None = None) -> LLMRequest:
        return request_for(self.cfg, item, messages)

    async def _one(self, client: AsyncClient, item: WorkItem, warmup: bool = False, request: LLMRequest | None = None,
                   extra: dict[str, Any] | None = None) -> StreamRecord | None:  # fmt: skip
        if request is None and item.prompt.turns and not warmup:
            return await self._conversation(client, item)
        sent = self.clock() - self.start if not warmup else None
        req = request or self._request(item)
        s = client.stream(item.deployment, req if self.cfg.cache_reuse else unique_prefix(req))
        try:
            async with asyncio.timeout(self.cfg.timeout_s):
                await s.run()
        except TimeoutError:
            await s.abort("request_timeout", f"the request took longer than the {self.cfg.timeout_s:g} s limit")
        except asyncio.CancelledError:
            await asyncio.shield(s.aclose())
            self.cancelled_in_flight += 1
            raise
        except Exception as e:  # an unexpected failure is data too: a row with its error type; the run goes on
            with contextlib.suppress(Exception):
                await s.abort(type(e).__name__, f"the request failed unexpectedly: {e}")
        rec = s.record
        self._writes.put((rec, dict(seq=item.seq, warmup=warmup, prompt_id=item.prompt.id, prompt_size=item.prompt.size,
                                    mode=item.mode, pair_id=item.pair_id, scheduled_s=item.scheduled_s, sent_s=sent,
                                    clock_offset_s=self.clock_offset, run_start_s=None if warmup else self.start) | (extra or {})))  # fmt: skip
        if not warmup:
            self._count(item, rec, sent)
        return rec

    async def _conversation(self, client: AsyncClient, item: WorkItem) -> StreamRecord | None:
        """Replay ``item``'s conversation turn by turn (``bench.conversation``); returns the last turn's record."""
        p = item.prompt
        assert p.messages is not None
        history: list[dict[str, Any]] = []
        rec: StreamRecord | None = None
        cid = f"{item.pair_id}|{item.seq}"
        for turn, (before, idx) in enumerate(turn_histories(p.messages, p.turns)):
            if turn and self._should_stop_sending():
                break
            if turn == 0:
                history = list(before)
            user = p.messages[idx]
            req = self._request(item, messages=[*history, user])
            rec = await self._one(client, item, request=req, extra={"conversation_id": cid, "turn_index": turn, "pair_id": f"{item.pair_id}|turn-{turn}"})
            if not rec.ok or not rec.text:
                break
            history += [user, {"role": "assistant", "content": rec.text}]
        return rec

    def _count(self, item: WorkItem, rec: StreamRecord, sent: float | None) -> None:
        wait = rec.perceived_wait_s
        self.tally.add(BenchPoint(item.seq, self.clock() - self.start, sent, item.scheduled_s, cell_label(*item.cell), item.deployment, item.mode,
                                  rec.status, wait if rec.ok and wait is not None else None))  # fmt: skip
        self.saturation.update(self.points, self.warnings, self.stop if self.cfg.stop_on_saturation else None)
        self._emit()

    def _emit(self, force: bool = False) -> None:
        if self.progress_cb is None:
            return
        now = self.clock()
        if not force and now - self._last_emit < PROGRESS_EVERY_S and self.tally.done < self.tally.total:
            return
        self._last_emit = now
        snap = self.tally.snapshot(self.run_id, self.phase, (now - self.start) if self.start else 0.0, self.warnings)
        try:
            self.progress_cb(snap)
        except Exception:  # a broken progress display must not end the run
            pass
