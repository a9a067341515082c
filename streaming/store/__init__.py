"""The results database: runs, one row per request, and each request's token timeline.

SQLite in WAL mode with a busy timeout, so the app and a CLI benchmark can write
at once. Each request is committed as it finishes: a killed process loses only
the requests in flight. The schema lives in code as numbered migrations
(``PRAGMA user_version`` says how many have run).

Path: ``--db PATH``, else ``$STREAMING_DB``, else ``./data/streaming.db``.

Tables:
    runs       id, created_at, status, kind/tag, config (no secrets), versions, host, warnings
    requests   one row per request: every scalar field of the StreamRecord, plus the
               benchmark's own columns (seq, prompt, mode, scheduled/sent times, warmup)
    timeline   per request, the arrival time (s from t0) and size (chars) of each content
               chunk, stored as packed arrays (float64 / int32) for speed
"""

from __future__ import annotations

from typing import Any

# Loaded on first use: ``streaming.store.recordings`` (a server's replays) must not pay for pandas.
_WHERE = {
    "integrity_check": "reader", "list_runs": "reader", "load_requests": "reader", "load_timeline": "reader",
    "selection_key": "reader", "DEFAULT_DB": "schema", "ENV_DB": "schema", "MIGRATIONS": "schema", "NUM_LAYOUTS": "schema", "RUN_STATUSES": "schema",
    "connect": "schema", "default_db_path": "schema", "migrate": "schema", "Store": "writer", "scrub": "writer",
}  # fmt: skip

__all__ = ["DEFAULT_DB", "ENV_DB", "MIGRATIONS", "NUM_LAYOUTS", "RUN_STATUSES", "Store", "connect", "default_db_path", "integrity_check",
           "list_runs", "load_requests", "load_timeline", "migrate", "scrub", "selection_key"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'streaming.store' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"streaming.store.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
