"""The results database's schema: tables, migrations (``PRAGMA user_version``), and the packed numeric blob's layouts."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from pathlib import Path

DEFAULT_DB = "./data/streaming.db"
ENV_DB = "STREAMING_DB"
BUSY_TIMEOUT_MS = 30_000
RUN_STATUSES = ("running", "finished", "stopped", "failed", "interrupted", "open")
TAGS = ("bench", "demo")

# StreamRecord fields stored as their own column; the lists go to ``timeline`` or JSON.
_JSON_FIELDS = ("ratelimit", "content_filter", "attempts")
_TIMELINE_FIELDS = ("chunk_times_s", "chunk_chars")
_REC_COLUMNS_V1 = (
    "deployment", "provider", "model", "api", "stream", "temperature", "max_tokens", "status", "error",
    "error_type", "finish_reason", "response_id", "request_id", "started_at", "http_status", "t_headers_s",
    "t_first_event_s", "ttft_s", "t_last_token_s", "e2e_s", "output_tokens", "tokens_source", "input_tokens",
    "chunks", "events", "retries", "retry_wait_s", "usage_requested", "text", "t0_monotonic", "bad_payload",
    "tpot_s", "tokens_per_s",
)  # fmt: skip
_REC_COLUMNS_V3 = ("connect_s", "resume_of")  # record fields added later (m003)
_REC_COLUMNS = _REC_COLUMNS_V1 + _REC_COLUMNS_V3
# A request's wall-clock anchor (m004): its process's time.time() − monotonic clock, and the run's start on that clock
# (the origin of scheduled_s and sent_s), so times from processes with different clock epochs can be put on one clock.
_ANCHOR_COLUMNS = ("clock_offset_s", "run_start_s")
_FLOAT_COLUMNS = ("connect_s", *_ANCHOR_COLUMNS)  # numeric, but not in the packed ``num`` blob (its layout is fixed)
_BENCH_COLUMNS = ("seq", "tag", "warmup", "prompt_id", "prompt_size", "mode", "pair_id", "scheduled_s", "sent_s", *_ANCHOR_COLUMNS)
_BOOL_COLUMNS = ("stream", "usage_requested", "warmup")
# Numeric columns are also packed into one float64 blob per row (``num``): reading 100,000 rows
# then costs one Python object per row instead of one per value. NaN stands for NULL.
# The blob's layout is versioned by its width: each layout is the previous one plus new columns at
# the end, so a row's width says which layout wrote it, and columns it predates read as NaN. To add
# a numeric field, append a layout; never reorder one. Columns only in the blob (no SQL column) are
# listed in ``_BLOB_ONLY``.
NUM_LAYOUTS: tuple[tuple[str, ...], ...] = (
    (
        "seq", "warmup", "scheduled_s", "sent_s", "stream", "temperature", "max_tokens", "http_status", "t_headers_s",
        "t_first_event_s", "ttft_s", "t_last_token_s", "e2e_s", "output_tokens", "input_tokens", "chunks", "events",
        "retries", "retry_wait_s", "usage_requested", "t0_monotonic", "tpot_s", "tokens_per_s",
    ),
    ("ttft_incl_retries_s", "e2e_incl_retries_s"),
    ("t_first_reasoning_s", "reasoning_tokens", "cached_tokens"),
)  # fmt: skip
_NUM_COLUMNS = tuple(c for layout in NUM_LAYOUTS for c in layout)  # what a new row's blob holds
_BLOB_ONLY = NUM_LAYOUTS[1] + NUM_LAYOUTS[2]
_INT_COLUMNS = ("seq", "max_tokens", "http_status", "output_tokens", "input_tokens", "chunks", "events", "retries")
_STR_COLUMNS = tuple(c for c in ("run_id", *_BENCH_COLUMNS, *_REC_COLUMNS) if c not in _NUM_COLUMNS)  # read one object per value
_INSERT_COLS = ("run_id", *_BENCH_COLUMNS, "created_at", *_REC_COLUMNS, *_JSON_FIELDS, "extra")


def default_db_path() -> str:
    """``$STREAMING_DB`` when set, else ``./data/streaming.db``."""
    return os.environ.get(ENV_DB) or DEFAULT_DB


# -- migrations -------------------------------------------------------------------
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = []
migration = MIGRATIONS.append


@migration
def m001_initial(db: sqlite3.Connection) -> None:
    db.execute(
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY, created_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL,
            kind TEXT NOT NULL, config TEXT NOT NULL DEFAULT '{}', versions TEXT NOT NULL DEFAULT '{}',
            host TEXT NOT NULL DEFAULT '{}', notes TEXT NOT NULL DEFAULT '', warnings TEXT NOT NULL DEFAULT '[]',
            pid INTEGER, hostname TEXT)"""
    )
    rec_cols = ", ".join(f"{c}" for c in _REC_COLUMNS_V1)
    db.execute(
        f"""CREATE TABLE requests (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id),
            seq INTEGER, tag TEXT NOT NULL, warmup INTEGER NOT NULL DEFAULT 0, prompt_id TEXT, prompt_size TEXT,
            mode TEXT NOT NULL, pair_id TEXT, scheduled_s REAL, sent_s REAL, created_at TEXT NOT NULL,
            {rec_cols}, ratelimit TEXT, content_filter TEXT, attempts TEXT, extra TEXT, num BLOB)"""
    )
    db.execute("CREATE INDEX requests_run ON requests(run_id, seq)")
    db.execute("CREATE INDEX requests_response ON requests(response_id)")
    db.execute("CREATE TABLE timeline (request_id INTEGER PRIMARY KEY REFERENCES requests(id), t_s BLOB NOT NULL, chars BLOB NOT NULL)")


@migration
def m002_run_metrics(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE runs ADD COLUMN loop_lag_p99_ms REAL")
    db.execute("ALTER TABLE runs ADD COLUMN deployments TEXT NOT NULL DEFAULT '[]'")


@migration
def m003_connect_and_resume(db: sqlite3.Connection) -> None:
    db.execute("ALTER TABLE requests ADD COLUMN connect_s REAL")
    db.execute("ALTER TABLE requests ADD COLUMN resume_of TEXT")


@migration
def m004_clock_anchor(db: sqlite3.Connection) -> None:
    for c in _ANCHOR_COLUMNS:
        db.execute(f"ALTER TABLE requests ADD COLUMN {c} REAL")


@migration
def m005_server_samples(db: sqlite3.Connection) -> None:
    """Prometheus samples scraped from the servers during a run (``bench.scrape``): one row per sample per scrape."""
    db.execute(
        """CREATE TABLE server_samples (
            id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), deployment TEXT, url TEXT NOT NULL,
            name TEXT NOT NULL, common TEXT, labels TEXT NOT NULL DEFAULT '{}', value REAL,
            t_s REAL NOT NULL, wall REAL NOT NULL)"""
    )
    db.execute("CREATE INDEX server_samples_run ON server_samples(run_id, common, t_s)")


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection in WAL mode with a busy timeout, the schema migrated to the latest version."""
    p = Path(path)
    if str(path) != ":memory:":
        p.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    migrate(db)
    return db


def migrate(db: sqlite3.Connection) -> int:
    """Run the migrations not yet applied, each in its own write transaction. Returns the version."""
    while True:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version >= len(MIGRATIONS):
            return version
        db.execute("BEGIN IMMEDIATE")  # another process may be migrating: re-check under the lock
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version < len(MIGRATIONS):
                MIGRATIONS[version](db)
                db.execute(f"PRAGMA user_version = {version + 1}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


