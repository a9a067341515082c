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

from streaming.store.reader import (
           integrity_check,
           list_runs,
           load_requests,
           load_timeline,
)
from streaming.store.schema import (
           DEFAULT_DB,
           ENV_DB,
           MIGRATIONS,
           NUM_LAYOUTS,
           RUN_STATUSES,
           connect,
           default_db_path,
           migrate,
)
from streaming.store.writer import Store, scrub

__all__ = ["DEFAULT_DB", "ENV_DB", "MIGRATIONS", "NUM_LAYOUTS", "RUN_STATUSES", "Store", "connect", "default_db_path", "integrity_check",
           "list_runs", "load_requests", "load_timeline", "migrate", "scrub"]
