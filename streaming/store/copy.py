"""Copy a run, with every request and its timeline, from one results database into another.

What a replay needs on a machine without the network: record on one machine, copy the run into a
small file (or the demo machine's database), and point a ``provider = "replay"`` deployment at it.
The copy is one transaction: it lands whole or not at all. Request row ids are renumbered past the
destination's own (a replay's closing check compares row ids within one database).
"""

from __future__ import annotations

import os
from pathlib import Path

from streaming.errors import ConfigError
from streaming.store.schema import connect


def copy_run(src: str | os.PathLike[str], run_id: str, dst: str | os.PathLike[str]) -> int:
    """Copy ``run_id`` from ``src`` into ``dst`` (created when missing). Returns how many requests were copied."""
    src_p, dst_p = Path(src).resolve(), Path(dst).resolve()
    if not src_p.is_file():
        raise ConfigError(f"--db {src}: the results database does not exist")
    if src_p == dst_p:
        raise ConfigError(f"--to {dst}: that is the database the run is in; give another file")
    s = connect(src_p)  # an older file is migrated first, so both have the same columns
    try:
        if s.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:  # before the destination is created
            recent = [r[0] for r in s.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 5")]
            raise ConfigError(f"no run '{run_id}' in {src}; recent runs: {', '.join(recent) or 'none'}")
    finally:
        s.close()
    db = connect(dst_p)
    try:
        db.execute("ATTACH DATABASE ? AS src", (str(src_p),))
        if db.execute("SELECT 1 FROM main.runs WHERE id = ?", (run_id,)).fetchone() is not None:
            raise ConfigError(f"--to {dst}: run '{run_id}' is already there")
        run_cols = ", ".join(r[1] for r in db.execute("PRAGMA main.table_info(runs)"))
        req_cols = [r[1] for r in db.execute("PRAGMA main.table_info(requests)") if r[1] != "id"]
        cols = ", ".join(req_cols)
        db.execute("BEGIN IMMEDIATE")
        try:
            lo = db.execute("SELECT MIN(id) FROM src.requests WHERE run_id = ?", (run_id,)).fetchone()[0] or 0
            top = db.execute("SELECT COALESCE(MAX(id), 0) FROM main.requests").fetchone()[0]
            shift = max(0, top + 1 - lo)
            db.execute(f"INSERT INTO main.runs ({run_cols}) SELECT {run_cols} FROM src.runs WHERE id = ?", (run_id,))
            n = db.execute(f"INSERT INTO main.requests (id, {cols}) SELECT id + ?, {cols} FROM src.requests WHERE run_id = ?", (shift, run_id)).rowcount
            db.execute("INSERT INTO main.timeline (request_id, t_s, chars) SELECT t.request_id + ?, t.t_s, t.chars FROM src.timeline t "
                       "JOIN src.requests r ON r.id = t.request_id WHERE r.run_id = ?", (shift, run_id))  # fmt: skip
            sample_cols = "run_id, deployment, url, name, common, labels, value, t_s, wall"  # the servers' side of the run
            db.execute(f"INSERT INTO main.server_samples ({sample_cols}) SELECT {sample_cols} FROM src.server_samples WHERE run_id = ? ORDER BY id", (run_id,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    finally:
        db.close()
    return int(n)
