"""``run_benchmark(config, store)``: resolve the config once into a ``Plan``, then run it here or on Ray workers.

It is synchronous (the engine runs its own event loop), so the CLI calls it directly and the Streamlit
page calls it in a thread. The engine is ``bench.engine``; scale-out is ``bench.distributed``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from streaming.bench.distributed import run_distributed
from streaming.bench.engine import LAG_INTERVAL_S, PROGRESS_EVERY_S, Clock, run_plan  # noqa: F401 - public here too
from streaming.bench.matrix import BenchConfig
from streaming.bench.plan import Plan, plan_run  # noqa: F401 - public here too
from streaming.bench.progress import Progress
from streaming.bench.selfcheck import (  # noqa: F401 - public here too
    LOOP_LAG_MIN_SAMPLES,
    LOOP_LAG_WARN_MS,
    loop_lag_warning,
    send_lag_warning,
)
from streaming.store import Store


def run_benchmark(config: BenchConfig, db: Store, progress: Callable[[Progress], None] | None = None,
                  stop: threading.Event | None = None, clock: Clock = time.perf_counter) -> str:  # fmt: skip
    """Run the matrix, storing every request in ``db``; returns the run id. ``stop`` ends it early (kept, marked stopped).

    With ``config.workers`` > 1 the load runs on that many Ray worker processes (``bench.distributed``).
    """
    plan = plan_run(config)
    if config.workers > 1:
        return run_distributed(plan, db, progress, stop)
    return run_plan(plan, db, progress, stop, clock)
