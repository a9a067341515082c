"""Sweeps in the results database: each step is a run whose stored config carries ``sweep_id`` and ``sweep_load``."""

from __future__ import annotations

import os
from typing import Any

import orjson
import pandas as pd

from streaming.store.reader import _read_conn, list_runs


def list_sweeps(db_path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """One row per sweep, newest first: sweep_id, created_at, steps, deployments, slos."""
    db = _read_conn(db_path)
    try:
        rows = db.execute(
            """SELECT json_extract(config, '$.sweep_id') AS sweep_id, MIN(created_at) AS created_at, COUNT(*) AS steps,
                      MAX(deployments) AS deployments, MAX(json_extract(config, '$.slos')) AS slos
               FROM runs WHERE json_extract(config, '$.sweep_id') IS NOT NULL
               GROUP BY sweep_id ORDER BY created_at DESC"""
        ).fetchall()
    finally:
        db.close()
    df = pd.DataFrame(rows, columns=["sweep_id", "created_at", "steps", "deployments", "slos"])
    df["deployments"] = [orjson.loads(v) if v else [] for v in df["deployments"]]
    df["slos"] = [orjson.loads(v) if v else [] for v in df["slos"]]
    return df


def sweep_runs(db_path: str | os.PathLike[str] | None, sweep_id: str) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """The sweep's runs (rows of ``list_runs``) and each run's stored config, by run id."""
    db = _read_conn(db_path)
    try:
        rows = db.execute("SELECT id, config FROM runs WHERE json_extract(config, '$.sweep_id') = ?", (sweep_id,)).fetchall()
    finally:
        db.close()
    configs = {r[0]: orjson.loads(r[1]) if r[1] else {} for r in rows}
    runs = list_runs(db_path)
    return runs[runs["run_id"].isin(configs)].reset_index(drop=True), configs


def sweep_of_run(db_path: str | os.PathLike[str] | None, run_id: str) -> str | None:
    """The sweep a run belongs to, or None."""
    db = _read_conn(db_path)
    try:
        row = db.execute("SELECT json_extract(config, '$.sweep_id') FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    return row[0] if row and row[0] else None


def run_configs(db_path: str | os.PathLike[str] | None, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Each run's stored config (no secrets), by run id."""
    if not run_ids:
        return {}
    db = _read_conn(db_path)
    try:
        rows = db.execute(f"SELECT id, config FROM runs WHERE id IN ({','.join('?' * len(run_ids))})", run_ids).fetchall()
    finally:
        db.close()
    return {r[0]: orjson.loads(r[1]) if r[1] else {} for r in rows}

