"""Writing the results database: runs, and one row per request as it finishes (each write its own transaction)."""

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
from typing import Any

import numpy as np
import orjson

from streaming.core.record import StreamRecord, utc_now
from streaming.store.schema import (
    _ANCHOR_COLUMNS,
    _BENCH_COLUMNS,
    _BLOB_ONLY,
    _BOOL_COLUMNS,
    _INSERT_COLS,
    _JSON_FIELDS,
    _NUM_COLUMNS,
    _REC_COLUMNS,
    _TIMELINE_FIELDS,
    RUN_STATUSES,
    connect,
    default_db_path,
)

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

    from streaming.version import __version__

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

    def add_warnings(self, run_id: str, warnings: Sequence[str]) -> None:
        """Add ``warnings`` to a run's (an open run, such as the demo's), each said once."""

        def fn(db: sqlite3.Connection) -> None:
            row = db.execute("SELECT warnings FROM runs WHERE id = ?", (run_id,)).fetchone()
            have = list(orjson.loads(row[0])) if row and row[0] else []
            new = [w for w in dict.fromkeys(warnings) if w not in have]
            if new:
                db.execute("UPDATE runs SET warnings = ? WHERE id = ?", (_dumps(have + new), run_id))

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
        pair_id, scheduled_s, sent_s, clock_offset_s, run_start_s; anything else goes to the ``extra`` JSON column. Returns its row id."""
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
            **{c: extra.pop(c, None) for c in _ANCHOR_COLUMNS},
        }  # fmt: skip
        d = {f.name: getattr(rec, f.name) for f in dataclasses.fields(rec)}
        d["tpot_s"], d["tokens_per_s"] = rec.tpot_s, rec.tokens_per_s
        known = set(_REC_COLUMNS) | set(_JSON_FIELDS) | set(_TIMELINE_FIELDS) | set(_BLOB_ONLY)
        unknown = {k: v for k, v in d.items() if k not in known}  # fields added to the record after this schema
        unknown.update(extra)
        row = (
            run_id, *(bench[c] for c in _BENCH_COLUMNS), utc_now(),
            *((int(d[c]) if c in _BOOL_COLUMNS and d[c] is not None else d[c]) for c in _REC_COLUMNS),
            *(_dumps(d[c]) for c in _JSON_FIELDS), _dumps(scrub(unknown)) if unknown else None,
        )  # fmt: skip
        values = {**dict(zip(_INSERT_COLS, row)), **{c: d[c] for c in _BLOB_ONLY}}
        num = np.array([np.nan if values[c] is None else float(values[c]) for c in _NUM_COLUMNS], dtype=np.float64).tobytes()
        row = (*row, num)
        times = np.asarray(rec.chunk_times_s, dtype=np.float64).tobytes()
        chars = np.asarray(rec.chunk_chars, dtype=np.int32).tobytes()
        return row, times, chars


_INSERT = f"INSERT INTO requests ({', '.join(_INSERT_COLS)}, num) VALUES ({', '.join('?' * (len(_INSERT_COLS) + 1))})"


