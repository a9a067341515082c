"""A benchmark running in the background for the app: poll its progress, stop it; what finished is kept.
"""

from __future__ import annotations

import threading

from streaming.bench.matrix import BenchConfig
from streaming.bench.progress import Progress
from streaming.bench.runner import run_benchmark
from streaming.store import Store


class BenchJob:
    """A benchmark running in a background thread (for the app): poll ``progress``, call ``stop()``."""

    def __init__(self, config: BenchConfig, db_path: str) -> None:
        self.config, self.db_path = config, db_path
        self.progress: Progress | None = None
        self.run_id: str | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._work, name="bench-job", daemon=True)

    def start(self) -> BenchJob:
        self._thread.start()
        return self

    def _work(self) -> None:
        try:
            with Store(self.db_path) as st:
                self.run_id = run_benchmark(self.config, st, self._on_progress, self._stop)
        except Exception as e:  # shown as one sentence; the run (if created) is marked failed
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.error = f"The benchmark could not run: {first}"

    def _on_progress(self, p: Progress) -> None:
        self.progress = p
        self.run_id = p.run_id or self.run_id

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
