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

import dataclasses
import datetime as dt
import os
import platform
import secrets
import sqlite3
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from streaming.core.record import StreamRecord, utc_now

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
_FLOAT_COLUMNS = ("connect_s",)  # numeric, but not in the packed ``num`` blob (its layout is fixed)
_BENCH_COLUMNS = ("seq", "tag", "warmup", "prompt_id", "prompt_size", "mode", "pair_id", "scheduled_s", "sent_s")
_BOOL_COLUMNS = ("stream", "usage_requested", "warmup")
# Numeric columns are also packed into one float64 blob per row (``num``): reading 100,000 rows
# then costs one Python object per row instead of one per value. NaN stands for NULL.
_NUM_COLUMNS = (
    "seq", "warmup", "scheduled_s", "sent_s", "stream", "temperature", "max_tokens", "http_status", "t_headers_s",
    "t_first_event_s", "ttft_s", "t_last_token_s", "e2e_s", "output_tokens", "input_tokens", "chunks", "events",
    "retries", "retry_wait_s", "usage_requested", "t0_monotonic", "tpot_s", "tokens_per_s",
)  # fmt: skip
_INT_COLUMNS = ("seq", "max_tokens", "http_status", "output_tokens", "input_tokens", "chunks", "events", "retries")
_STR_COLUMNS = tuple(c for c in ("run_id", *_BENCH_COLUMNS, *_REC_COLUMNS) if c not in _NUM_COLUMNS)  # read one object per value


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


_SECRET_WORDS = ("key", "secret", "token", "password", "authorization", "credential")


def scrub(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking entry removed (names of env vars are kept)."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            kl = str(k).lower()
            if any(w in kl for w in _SECRET_WORDS) and not kl.endswith("_env") and not kl.endswith("tokens") and "tokens_" not in kl:
                continue
            out[k] = scrub(v)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    return value


def _versions() -> dict[str, str]:
    from importlib import metadata

    from streaming import __version__

    out = {"streaming": __version__, "python": sys.version.split()[0], "sqlite": sqlite3.sqlite_version}
    for pkg in ("httpx2", "openai", "fastapi", "uvicorn", "llama-cpp-python", "numpy", "pandas", "streamlit"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    return out


def _host() -> dict[str, Any]:
    return {"platform": platform.platform(), "machine": platform.machine(), "cpus": os.cpu_count(), "python": platform.python_implementation()}


def _dumps(v: Any) -> str:
    return orjson.dumps(v, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str).decode()


class Store:
    """A results database. Thread-safe; every write is its own committed transaction."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = str(path) if path is not None else default_db_path()
        self.db = connect(self.path)
        self._lock = threading.Lock()
        self._run_tags: dict[str, str] = {}

    def close(self) -> None:
        with self._lock:
            self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self.db)
                self.db.execute("COMMIT")
                return out
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    # -- runs ---------------------------------------------------------------------
    def create_run(self, kind: str = "bench", config: dict[str, Any] | None = None, *, notes: str = "",
                   deployments: Sequence[str] = (), status: str = "running") -> str:  # fmt: skip
        """A new run; ``kind`` is its tag ("bench" or "demo"). ``config`` is stored with secrets removed."""
        run_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)
        row = (run_id, utc_now(), status, kind, _dumps(scrub(config or {})), _dumps(_versions()), _dumps(_host()), notes,
               os.getpid(), platform.node(), _dumps(list(deployments)))  # fmt: skip
        self._write(lambda db: db.execute(
            "INSERT INTO runs (id, created_at, status, kind, config, versions, host, notes, pid, hostname, deployments)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?)", row))  # fmt: skip
        self._run_tags[run_id] = kind
        return run_id

    def get_or_create_demo_run(self) -> str:
        """Today's (UTC) demo run, created on first use: the live demo's turns go there, tagged ``demo``."""
        today = utc_now()[:10]
        with self._lock:
            row = self.db.execute("SELECT id FROM runs WHERE kind = 'demo' AND substr(created_at, 1, 10) = ? ORDER BY created_at DESC LIMIT 1",
                                  (today,)).fetchone()  # fmt: skip
        if row:
            self._run_tags[row[0]] = "demo"
            return str(row[0])
        return self.create_run("demo", {"kind": "demo"}, notes="live demo turns", status="open")

    def finish_run(self, run_id: str, status: str = "finished", *, warnings: Sequence[str] | None = None,
                   loop_lag_p99_ms: float | None = None, notes: str | None = None) -> None:  # fmt: skip
        if status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {RUN_STATUSES}, got {status!r}")

        def fn(db: sqlite3.Connection) -> None:
            db.execute("UPDATE runs SET status = ?, finished_at = ? WHERE id = ?", (status, utc_now(), run_id))
            if warnings is not None:
                db.execute("UPDATE runs SET warnings = ? WHERE id = ?", (_dumps(list(warnings)), run_id))
            if loop_lag_p99_ms is not None:
                db.execute("UPDATE runs SET loop_lag_p99_ms = ? WHERE id = ?", (float(loop_lag_p99_ms), run_id))
            if notes is not None:
                db.execute("UPDATE runs SET notes = ? WHERE id = ?", (notes, run_id))

        self._write(fn)

    def latest_run(self, kind: str | None = "bench") -> str | None:
        q = "SELECT id FROM runs" + (" WHERE kind = ?" if kind else "") + " ORDER BY created_at DESC, rowid DESC LIMIT 1"
        with self._lock:
            row = self.db.execute(q, (kind,) if kind else ()).fetchone()
        return str(row[0]) if row else None

    def run_info(self, run_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,))
            row = cur.fetchone()
            names = [c[0] for c in cur.description]
        if row is None:
            return None
        d = dict(zip(names, row))
        for k in ("config", "versions", "host", "warnings", "deployments"):
            d[k] = orjson.loads(d[k]) if d.get(k) else None
        return d

    # -- requests -----------------------------------------------------------------
    def add_record(self, run_id: str, record: StreamRecord, **extra: Any) -> int:
        """Store one request (committed now). ``extra``: seq, tag, warmup, prompt_id, prompt_size, mode,
        pair_id, scheduled_s, sent_s; anything else goes to the ``extra`` JSON column. Returns its row id."""
        row, times, chars = self._row(run_id, record, extra)

        def fn(db: sqlite3.Connection) -> int:
            cur = db.execute(_INSERT, row)
            rid = int(cur.lastrowid or 0)
            db.execute("INSERT INTO timeline (request_id, t_s, chars) VALUES (?,?,?)", (rid, times, chars))
            return rid

        return int(self._write(fn))

    def add_records(self, run_id: str, items: Iterable[tuple[StreamRecord, dict[str, Any]]]) -> int:
        """Many requests in one transaction (imports, synthetic data). Returns how many."""
        rows = [self._row(run_id, rec, dict(extra)) for rec, extra in items]

        def fn(db: sqlite3.Connection) -> int:
            for row, times, chars in rows:
                cur = db.execute(_INSERT, row)
                db.execute("INSERT INTO timeline (request_id, t_s, chars) VALUES (?,?,?)", (cur.lastrowid, times, chars))
            return len(rows)

        return int(self._write(fn))

    def _row(self, run_id: str, rec: StreamRecord, extra: dict[str, Any]) -> tuple[tuple[Any, ...], bytes, bytes]:
        tag = extra.pop("tag", None) or self._run_tags.get(run_id) or "bench"
        bench = {
            "seq": extra.pop("seq", None), "tag": tag, "warmup": int(bool(extra.pop("warmup", False))),
            "prompt_id": extra.pop("prompt_id", None), "prompt_size": extra.pop("prompt_size", None),
            "mode": extra.pop("mode", None) or ("stream" if rec.stream else "non-stream"), "pair_id": extra.pop("pair_id", None),
            "scheduled_s": extra.pop("scheduled_s", None), "sent_s": extra.pop("sent_s", None),
        }  # fmt: skip
        d = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
        d["tpot_s"], d["tokens_per_s"] = rec.tpot_s, rec.tokens_per_s
        known = set(_REC_COLUMNS) | set(_JSON_FIELDS) | set(_TIMELINE_FIELDS)
        unknown = {k: v for k, v in d.items() if k not in known}  # fields added to the record after this schema
        unknown.update(extra)
        row = (
            run_id, *(bench[c] for c in _BENCH_COLUMNS), utc_now(),
            *((int(d[c]) if c in _BOOL_COLUMNS and d[c] is not None else d[c]) for c in _REC_COLUMNS),
            *(_dumps(d[c]) for c in _JSON_FIELDS), _dumps(scrub(unknown)) if unknown else None,
        )  # fmt: skip
        values = dict(zip(_INSERT_COLS, row))
        num = np.array([np.nan if values[c] is None else float(values[c]) for c in _NUM_COLUMNS], dtype=np.float64).tobytes()
        row = (*row, num)
        times = np.asarray(rec.chunk_times_s, dtype=np.float64).tobytes()
        chars = np.asarray(rec.chunk_chars, dtype=np.int32).tobytes()
        return row, times, chars


_INSERT_COLS = ("run_id", *_BENCH_COLUMNS, "created_at", *_REC_COLUMNS, *_JSON_FIELDS, "extra")
_INSERT = f"INSERT INTO requests ({', '.join(_INSERT_COLS)}, num) VALUES ({', '.join('?' * (len(_INSERT_COLS) + 1))})"


# -- reading --------------------------------------------------------------------------
def _read_conn(db_path: str | os.PathLike[str] | None) -> sqlite3.Connection:
    return connect(db_path if db_path is not None else default_db_path())


def _split(flat: np.ndarray, lengths: np.ndarray) -> list[np.ndarray]:
    """Views of ``flat`` cut into consecutive pieces of ``lengths``."""
    ends = np.cumsum(lengths)
    starts = (ends - lengths).tolist()
    return [flat[a:b] for a, b in zip(starts, ends.tolist())]


def load_requests(db_path: str | os.PathLike[str] | None = None, run_ids: Sequence[str] | None = None, *,
                  include_warmup: bool = False, tags: Sequence[str] | None = None, timelines: bool = True) -> pd.DataFrame:  # fmt: skip
    """One row per request: every StreamRecord field, plus request_key, run_id, tag, prompt_id, prompt_size,
    mode, pair_id, seq, scheduled_s, sent_s, schedule_lag_s and perceived_wait_s (TTFT when streaming,
    e2e otherwise).

    ``chunk_times_s``, ``chunk_chars`` and ``itl_s`` are numpy arrays (list-like; ``.tolist()`` for JSON);
    ``ratelimit``, ``content_filter`` and ``attempts`` stay JSON text. Warmup requests are left out
    unless ``include_warmup``. Built for speed: 100,000 requests in about a second.
    """
    where, params = [], []  # type: ignore[var-annotated]
    if run_ids:
        where.append(f"r.run_id IN ({','.join('?' * len(run_ids))})")
        params.extend(run_ids)
    if not include_warmup:
        where.append("r.warmup = 0")
    if tags:
        where.append(f"r.tag IN ({','.join('?' * len(tags))})")
        params.extend(tags)
    cols = ["r.id", *(f"r.{c}" for c in _STR_COLUMNS), *(f"r.{c}" for c in _JSON_FIELDS), "r.extra", "r.num"]
    if timelines:
        cols += ["t.t_s", "t.chars"]
    sql = f"SELECT {', '.join(cols)} FROM requests r" + (" LEFT JOIN timeline t ON t.request_id = r.id" if timelines else "")
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY r.run_id, r.seq, r.id"
    db = _read_conn(db_path)
    try:
        rows = db.execute(sql, params).fetchall()
    finally:
        db.close()
    n = len(rows)
    names = ["request_key", *_STR_COLUMNS, *_JSON_FIELDS, "extra", "num", *(("t_s", "chars") if timelines else ())]
    columns = list(zip(*rows)) if rows else [() for _ in names]
    col = dict(zip(names, columns))
    data: dict[str, Any] = {"request_key": np.array(col["request_key"], dtype=np.int64)}
    num = np.frombuffer(b"".join(col["num"]), dtype=np.float64).reshape(n, len(_NUM_COLUMNS)) if n else np.empty((0, len(_NUM_COLUMNS)))
    numeric = {c: num[:, i] for i, c in enumerate(_NUM_COLUMNS)}
    for c in ("run_id", *_BENCH_COLUMNS, *_REC_COLUMNS, *_JSON_FIELDS):
        if c in _BOOL_COLUMNS:
            data[c] = numeric[c] == 1.0
        elif c in _INT_COLUMNS:
            data[c] = pd.array(numeric[c], dtype="Int64")
        elif c in numeric:
            data[c] = numeric[c]
        elif c in _FLOAT_COLUMNS:
            data[c] = np.array([np.nan if v is None else v for v in col[c]], dtype=np.float64)
        else:
            data[c] = pd.Series(col[c], dtype=object)
    df = pd.DataFrame(data)
    if timelines:
        tb, cb = col["t_s"], col["chars"]
        lengths = np.fromiter((len(b) if b else 0 for b in tb), dtype=np.int64, count=n) // 8
        flat_t = np.frombuffer(b"".join(b for b in tb if b), dtype=np.float64)
        flat_c = np.frombuffer(b"".join(b for b in cb if b), dtype=np.int32)
        times = _split(flat_t, lengths)
        gaps = np.diff(flat_t) if len(flat_t) else flat_t
        # the ITL of a row is the diff inside it: the slice of the global diff that stops before the next row
        ends = np.cumsum(lengths)
        starts = ends - lengths
        itl_end = np.maximum(starts, ends - 1).tolist()
        itl = [gaps[a:b] for a, b in zip(starts.tolist(), itl_end)]
        df["chunk_times_s"] = pd.Series(times, dtype=object)
        df["chunk_chars"] = pd.Series(_split(flat_c, lengths), dtype=object)
        df["itl_s"] = pd.Series(itl, dtype=object)
    extras = col["extra"]
    if any(e for e in extras):  # fields added to the record after this schema come back as columns
        parsed = [orjson.loads(e) if e else {} for e in extras]
        for key in sorted({k for p in parsed for k in p}):
            df[key] = [p.get(key) for p in parsed]
    df["perceived_wait_s"] = np.where(df["stream"].to_numpy(dtype=bool), df["ttft_s"].to_numpy(), df["e2e_s"].to_numpy())
    df["schedule_lag_s"] = df["sent_s"] - df["scheduled_s"]
    return df


def list_runs(db_path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per run, newest first: run_id, created_at, finished_at, status, kind, tag, n_requests,
    n_errors, deployments, notes, warnings, loop_lag_p99_ms. A ``running`` run whose process is gone
    is shown as ``interrupted``."""
    db = _read_conn(db_path)
    try:
        cur = db.execute(
            """SELECT runs.id AS run_id, created_at, finished_at, status, kind, deployments, notes, warnings, loop_lag_p99_ms, pid, hostname,
                      COALESCE(c.n, 0) AS n_requests, COALESCE(c.e, 0) AS n_errors
               FROM runs LEFT JOIN (SELECT run_id, COUNT(*) AS n, SUM(status != 'ok') AS e FROM requests WHERE warmup = 0 GROUP BY run_id) c
               ON c.run_id = runs.id ORDER BY created_at DESC, runs.rowid DESC"""
        )
        rows = cur.fetchall()
        names = [c[0] for c in cur.description]
    finally:
        db.close()
    df = pd.DataFrame(rows, columns=names)
    if len(df):
        df["deployments"] = [orjson.loads(v) if v else [] for v in df["deployments"]]
        df["warnings"] = [orjson.loads(v) if v else [] for v in df["warnings"]]
        here = platform.node()
        df["status"] = [
            "interrupted" if s == "running" and h == here and pid and not _alive(int(pid)) else s
            for s, h, pid in zip(df["status"], df["hostname"], df["pid"])
        ]
    df["tag"] = df["kind"]
    return df.drop(columns=["pid", "hostname"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_timeline(db_path: str | os.PathLike[str] | None, keys: Sequence[int | str]) -> pd.DataFrame:
    """One row per content chunk: request_key, response_id, i, t_s (seconds from t0), chars.
    ``keys`` are request row ids (``request_key`` in ``load_requests``) or response ids."""
    ints = [int(k) for k in keys if isinstance(k, (int, np.integer))]
    strs = [str(k) for k in keys if not isinstance(k, (int, np.integer))]
    db = _read_conn(db_path)
    try:
        conds, params = [], []  # type: ignore[var-annotated]
        if ints:
            conds.append(f"r.id IN ({','.join('?' * len(ints))})")
            params.extend(ints)
        if strs:
            conds.append(f"r.response_id IN ({','.join('?' * len(strs))})")
            params.extend(strs)
        rows = db.execute(
            f"SELECT r.id, r.response_id, t.t_s, t.chars FROM requests r JOIN timeline t ON t.request_id = r.id WHERE {' OR '.join(conds)} ORDER BY r.id",
            params,
        ).fetchall() if conds else []  # fmt: skip
    finally:
        db.close()
    parts = []
    for rid, resp, tb, cb in rows:
        t = np.frombuffer(tb, dtype=np.float64)
        c = np.frombuffer(cb, dtype=np.int32)
        parts.append(pd.DataFrame({"request_key": rid, "response_id": resp, "i": np.arange(len(t)), "t_s": t, "chars": c}))
    if not parts:
        return pd.DataFrame({"request_key": pd.Series(dtype="int64"), "response_id": pd.Series(dtype=object), "i": pd.Series(dtype="int64"),
                             "t_s": pd.Series(dtype="float64"), "chars": pd.Series(dtype="int32")})  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def integrity_check(db_path: str | os.PathLike[str]) -> str:
    """``PRAGMA integrity_check``: "ok" when the file is sound."""
    db = sqlite3.connect(str(db_path))
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()
