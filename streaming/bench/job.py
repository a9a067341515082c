"""A benchmark running in the background for the app, in a child process: poll its progress, stop it; what finished is kept.

The load runs in its own process, as ``python -m streaming bench`` would: it does not share the GIL with the page
(whose fragment redraws a scatter twice a second), and the runner's process-wide ``gc.freeze()`` stays in it.
Progress comes back over a pipe; every request is in the database as it finishes. Stop sets an event the runner
watches: it cancels what is in flight, keeps what finished and marks the run stopped.
"""

from __future__ import annotations

import itertools
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import types
from dataclasses import replace
from typing import Any

from streaming.bench.matrix import BenchConfig
from streaming.bench.progress import Progress
from streaming.errors import describe_exit

_MAIN_LOCK = threading.Lock()
_JOBS = itertools.count(1)
PROGRESS_EVERY_S = 0.2  # how often the child reports (and on every phase change, and at the end)


def _child(config: BenchConfig, db_path: str, server_url: str | None, conn: Any, stop: Any, log_path: str | None = None) -> None:
    """The child process: the CLI's code path (``run_benchmark`` on a Store), progress sent as (snapshot, new points).
    Its stdout and stderr (and a crash's Python traceback, by faulthandler) go to ``log_path``."""
    import faulthandler
    import time

    if log_path:
        fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
        faulthandler.enable(file=sys.stderr)

    from streaming.bench.runner import run_benchmark
    from streaming.store import Store

    if server_url:
        os.environ["STREAMING_SERVER_URL"] = server_url  # the page's built-in server: one per app, not one per run
    sent = {"points": 0, "t": 0.0, "phase": ""}

    def on_progress(p: Progress) -> None:
        now = time.monotonic()
        final = p.phase in ("finished", "stopped", "failed")
        if not final and p.phase == sent["phase"] and now - sent["t"] < PROGRESS_EVERY_S:
            return
        new = list(p.points[sent["points"]:])
        sent.update(points=sent["points"] + len(new), t=now, phase=p.phase)
        conn.send(("progress", replace(p, points=[], cells=dict(p.cells), warnings=list(p.warnings)), new))

    try:
        with Store(db_path) as st:
            run_id = run_benchmark(config, st, on_progress, stop)
        conn.send(("done", run_id, None))
    except Exception as e:  # shown as one sentence; the run (if created) is marked failed
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        conn.send(("error", None, f"The benchmark could not run: {first}"))
    finally:
        conn.close()


class BenchJob:
    """A benchmark running in a child process (for the app): poll ``progress``, call ``stop()``."""

    def __init__(self, config: BenchConfig, db_path: str, server_url: str | None = None) -> None:
        self.config, self.db_path, self.server_url = config, db_path, server_url
        self.progress: Progress | None = None
        self.run_id: str | None = None
        self.error: str | None = None
        self.pid: int | None = None
        self.log_path = os.path.join(tempfile.gettempdir(), f"streaming-bench-{os.getpid()}-{next(_JOBS)}.log")
        ctx = mp.get_context("spawn")  # a fresh interpreter: no inherited threads or locks from the page's process
        self._stop = ctx.Event()
        self._recv, send = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_child, args=(config, db_path, server_url, send, self._stop, self.log_path), name="bench-job", daemon=True)
        self._send = send
        self._points: list[Any] = []
        self._thread = threading.Thread(target=self._follow, name="bench-job-follow", daemon=True)

    def start(self) -> BenchJob:
        with _MAIN_LOCK:  # spawn re-runs the parent's __main__ file in the child: under Streamlit, that is the page script
            main = sys.modules.get("__main__")
            sys.modules["__main__"] = types.ModuleType("__main__")
            try:
                self._process.start()
            finally:
                if main is not None:
                    sys.modules["__main__"] = main
        self.pid = self._process.pid
        self._send.close()  # the child holds the only writer: EOF when it exits
        self._thread.start()
        return self

    def _follow(self) -> None:
        try:
            while True:
                try:
                    kind, payload, extra = self._recv.recv()
                except (EOFError, OSError):
                    break
                if kind == "progress":
                    self._points.extend(extra)
                    self.progress = replace(payload, points=self._points)
                    self.run_id = payload.run_id or self.run_id
                elif kind == "done":
                    self.run_id = payload
                else:
                    self.error = extra
        finally:
            self._process.join()
            if self.error is None and self._process.exitcode not in (0, None):
                self.error = (f"The benchmark process ended unexpectedly ({describe_exit(self._process.exitcode)}); the requests that finished "
                              f"are saved and the run is marked interrupted. Log: {self.log_path}")  # fmt: skip

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def done(self) -> bool:
        return self._thread.ident is not None and not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return self.done
