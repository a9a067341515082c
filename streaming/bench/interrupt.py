"""Run a benchmark or a sweep on a thread, so Ctrl-C stops it cleanly (what finished is kept) instead of killing it."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any


def run_interruptibly(work: Callable[[], Any], stop: threading.Event, on_interrupt: str) -> Any:
    """``work()`` on a thread; Ctrl-C sets ``stop`` (the run ends cleanly and keeps what finished) and waits for it.

    Waits on an Event, not on Thread.join: an interrupted join can misreport the thread as ended.
    """
    box: dict[str, Any] = {}
    ended = threading.Event()

    def run() -> None:
        try:
            box["result"] = work()
        except BaseException as e:  # handed to the main thread
            box["error"] = e
        finally:
            ended.set()

    threading.Thread(target=run, name="bench", daemon=True).start()
    try:
        while not ended.wait(0.2):
            pass
    except KeyboardInterrupt:
        print(f"\n{on_interrupt}", file=sys.stderr)
        stop.set()
        while not ended.wait(0.2):
            pass
    if "error" in box:
        raise box["error"]
    return box["result"]
