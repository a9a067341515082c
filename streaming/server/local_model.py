"""The ``local`` deployment, server side: a supervised worker process that runs llama.cpp.

The model never runs in the server's process. ``LocalWorker`` starts
``python -m streaming.server.local_worker``, sends it one JSON line per request and
reads its pieces back as they decode. If llama.cpp crashes, only the worker dies:
the request in flight ends with ``ModelCrashed`` (its message names the signal),
a new worker starts at once, and the next request is served by it. Three crashes in a
row within a minute and the worker is not restarted again: ``local`` requests are then
refused at once with a sentence saying so, while every other deployment keeps working.

Requests queue in the worker, one generation at a time, and the queueing shows up
honestly as TTFT.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from streaming.errors import describe_exit
from streaming.server.local_frame import Frame
from streaming.server.local_worker import (  # noqa: F401 - re-exported for the throughput benchmark
    SAMPLING,
    model_path,
)

CRASH_LIMIT = 3
CRASH_WINDOW_S = 60.0
LOAD_TIMEOUT_S = 180.0


class ModelCrashed(Exception):
    """The worker died while a request was in flight (or could not be started)."""


class ModelUnavailable(Exception):
    """The worker is not restarted any more (repeated crashes) or could not load the model."""


def server_log_hint() -> str:
    path = os.environ.get("STREAMING_SERVER_LOG")
    return f"; server log: {path}" if path else ""


@dataclass
class _Generation:
    gid: int
    queue: asyncio.Queue[dict[str, Any] | BaseException] = field(default_factory=asyncio.Queue)
    on_done: Any = None


class LocalWorker:
    """One worker process at a time, restarted after a crash (up to ``CRASH_LIMIT`` in ``CRASH_WINDOW_S``)."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [sys.executable, "-m", "streaming.server.local_worker"]
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        self.load_s: float | None = None
        self.system_info: str | None = None
        self.last_crash: str | None = None
        self.disabled: str | None = None  # the sentence given to every request once restarts stopped
        self._crashes: deque[float] = deque(maxlen=CRASH_LIMIT)
        self._gens: dict[int, _Generation] = {}
        self._next_id = 0
        self._starting: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None

    # -- state ---------------------------------------------------------------------------
    @property
    def pid(self) -> int | None:
        p = self.proc
        return p.pid if p is not None and p.returncode is None and self._starting is None else None

    def health(self) -> dict[str, Any]:
        state = "disabled" if self.disabled else "running" if self.pid else "starting" if self._starting else "stopped"
        return {"local_worker_pid": self.pid, "local_worker_state": state, "local_worker_restarts": self.restarts,
                "local_worker_last_crash": self.last_crash, "local_model_loaded": self.pid is not None}  # fmt: skip

    # -- starting ------------------------------------------------------------------------
    async def ensure_started(self) -> float:
        """Start the worker if none runs (or wait for the one starting); the seconds the model took to load."""
        if self.disabled:
            raise ModelUnavailable(self.disabled)
        if self.pid is not None:
            return 0.0
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        task = self._starting
        try:
            await asyncio.shield(task)
        finally:
            if task.done() and self._starting is task:
                self._starting = None
        return self.load_s or 0.0

    async def _start(self) -> None:
        proc = await asyncio.create_subprocess_exec(
            *self.command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=None,
            cwd=str(Path(__file__).resolve().parents[2]), limit=1 << 22,
        )  # fmt: skip
        assert proc.stdout is not None
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), LOAD_TIMEOUT_S)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ModelUnavailable(f"the local model did not load within {LOAD_TIMEOUT_S:.0f} s{server_log_hint()}") from None
        msg = orjson.loads(line) if line.strip() else {}
        if not msg.get("ready"):
            rc = await proc.wait()
            reason = msg.get("error") or f"the local model's worker exited while loading ({describe_exit(rc)})"
            self._note_crash(reason)
            raise ModelUnavailable(reason + server_log_hint())
        self.proc = proc
        self.load_s = float(msg.get("load_s") or 0.0)
        self.system_info = msg.get("system_info")
        self._reader = asyncio.ensure_future(self._read(proc))

    # -- reading ---------------------------------------------------------------------------
    async def _read(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                break
            msg = orjson.loads(line)
            gen = self._gens.get(msg.get("id"))
            if gen is None:
                continue
            if msg.get("done") or "error" in msg:
                del self._gens[gen.gid]
                if msg.get("done"):
                    self._crashes.clear()  # a finished generation ends a run of crashes
                if gen.on_done is not None:
                    gen.on_done(msg)
            gen.queue.put_nowait(msg)
        rc = await proc.wait()
        self._on_exit(proc, rc)

    def _on_exit(self, proc: asyncio.subprocess.Process, rc: int) -> None:
        if self.proc is proc:
            self.proc = None
        name = describe_exit(rc)
        sentence = f"the local model crashed ({name}); a new worker is starting and the next request will be served{server_log_hint()}"
        self._note_crash(f"{name} at {time.strftime('%H:%M:%S', time.gmtime())} UTC")
        print(f"local model worker {proc.pid} exited ({name}) with {len(self._gens)} request(s) in flight; "
              + ("not restarted: " + self.disabled if self.disabled else "starting a new one"), file=sys.stderr, flush=True)
        if self.disabled:
            sentence = self.disabled
        for gen in list(self._gens.values()):
            gen.queue.put_nowait(ModelCrashed(sentence))
            if gen.on_done is not None:
                gen.on_done({"generated": None, "after_cancel": 0, "t": time.perf_counter()})
        self._gens.clear()
        if not self.disabled and self._starting is None:
            self.restarts += 1
            self._starting = asyncio.ensure_future(self._start())
            self._starting.add_done_callback(self._started_in_background)

    def _started_in_background(self, task: asyncio.Task[None]) -> None:
        if self._starting is task:
            self._starting = None
        if not task.cancelled():
            task.exception()  # retrieved: a failed restart is reported by the next request's ensure_started

    def _note_crash(self, what: str) -> None:
        now = time.monotonic()
        self._crashes.append(now)
        self.last_crash = what
        if len(self._crashes) >= CRASH_LIMIT and now - self._crashes[0] <= CRASH_WINDOW_S:
            self.disabled = (
                f"the local model crashed {CRASH_LIMIT} times within a minute (last: {what}) and is not restarted again; "
                "the other deployments keep working. Run 'python -m streaming doctor' to see why, then restart the server"
                + server_log_hint()
            )

    # -- generating ------------------------------------------------------------------------
    async def generate(self, job: dict[str, Any], on_done: Any = None, on_started: Any = None) -> AsyncIterator[dict[str, Any]]:
        """Messages of one generation (``start``, pieces ``p``, then ``done``); raises ``ModelCrashed`` if the worker dies."""
        await self.ensure_started()
        proc = self.proc
        if proc is None or proc.stdin is None:
            raise ModelCrashed(f"the local model's worker is not running (last: {self.last_crash}){server_log_hint()}")
        self._next_id += 1
        gen = _Generation(self._next_id, on_done=on_done)
        self._gens[gen.gid] = gen
        if on_started is not None:
            on_started(gen.gid)
        finished = False
        try:
            proc.stdin.write(orjson.dumps({"op": "gen", "id": gen.gid, **job}) + b"\n")
            while True:
                msg = await gen.queue.get()
                if isinstance(msg, BaseException):
                    finished = True
                    raise msg
                if "error" in msg:
                    finished = True
                    raise RuntimeError(msg["error"])
                yield msg
                if msg.get("done"):
                    finished = True
                    return
        finally:
            if not finished:
                self.cancel(gen.gid)

    def cancel(self, gid: int) -> None:
        """Ask the worker to stop generation ``gid`` (it checks at every token); a no-op once it has finished."""
        proc = self.proc
        if gid in self._gens and proc is not None and proc.returncode is None and proc.stdin is not None:
            with contextlib.suppress(Exception):
                proc.stdin.write(orjson.dumps({"op": "cancel", "id": gid}) + b"\n")

    async def stop(self) -> None:
        if self._starting is not None:
            self._starting.cancel()
        p = self.proc
        self.proc = None
        if p is not None and p.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            await p.wait()


class LocalSource:
    """One generation on the worker, as the server's token source (same interface as ``SimSource``)."""

    def __init__(self, worker: LocalWorker, frame: Frame, max_tokens: int | None, temperature: float | None, seed: int | None, chat: bool) -> None:
        self.worker = worker
        self.job = {"prompt": frame.prompt, "stop": list(frame.stop), "strip_leading": frame.strip_leading,
                    "max_tokens": max_tokens or 256, "temperature": temperature, "seed": seed, "chat": chat}  # fmt: skip
        self.finish_reason = "length"
        self.generated = 0
        self.prompt_tokens = 0
        self.after_cancel = 0
        self.stopped_at: float | None = None
        self.on_done: Any = None  # called once the worker has stopped generating (or died)
        self._gid: int | None = None

    def cancel(self) -> None:
        if self._gid is not None:
            self.worker.cancel(self._gid)

    def _started(self, gid: int) -> None:
        self._gid = gid

    def _done(self, msg: dict[str, Any]) -> None:
        if msg.get("generated") is not None:
            self.generated = int(msg["generated"])
        self.after_cancel = int(msg.get("after_cancel") or 0)
        self.stopped_at = float(msg.get("t") or time.perf_counter())
        if msg.get("finish_reason") in ("stop", "length"):
            self.finish_reason = msg["finish_reason"]
        if self.on_done is not None:
            self.on_done(self)

    async def tokens(self, start: float) -> AsyncIterator[str]:
        gen = self.worker.generate(self.job, on_done=self._done, on_started=self._started)
        try:
            async for msg in gen:
                piece = msg.get("p")
                if piece is not None:
                    self.generated = max(self.generated, int(msg.get("n") or 0))
                    yield piece
                elif msg.get("start"):
                    self.prompt_tokens = int(msg.get("prompt_tokens") or 0)
        finally:
            await gen.aclose()  # type: ignore[attr-defined]
