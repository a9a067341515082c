"""The servers' side of a run: Prometheus samples scraped while it ran (table ``server_samples``, migration m005).

One row per sample per scrape: the run, the deployment it belongs to, the URL it came from, the
sample's own name (``vllm:num_requests_waiting``, ``…_bucket``), its common name when the family is a
known one (``waiting``, ``queue_time_sum``; see ``core.prometheus``), its labels (JSON), its value, and when:
``t_s`` on the run's clock (seconds since its first measured send) and ``wall`` (Unix time).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import orjson

from streaming.store.schema import connect, default_db_path

if TYPE_CHECKING:  # pandas is imported where a frame is made: the run's scraper (in every load process) writes rows only
    import pandas as pd

COLUMNS = ("deployment", "url", "name", "common", "labels", "value", "t_s", "wall")


@dataclass(frozen=True)
class SampleRow:
    """One stored sample."""

    deployment: str | None
    url: str
    name: str
    common: str | None
    labels: dict[str, str]
    value: float
    t_s: float
    wall: float


def add_samples(store: object, run_id: str, rows: Sequence[SampleRow]) -> int:
    """Store one scrape's samples in one transaction (``store`` is a ``store.Store``). Returns how many."""
    if not rows:
        return 0
    data = [(run_id, r.deployment, r.url, r.name, r.common, orjson.dumps(r.labels, option=orjson.OPT_SORT_KEYS).decode(),
             r.value, r.t_s, r.wall) for r in rows]  # fmt: skip
    sql = f"INSERT INTO server_samples (run_id, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))})"
    store._write(lambda db: db.executemany(sql, data))  # type: ignore[attr-defined]
    return len(data)


def load_samples(db_path: str | os.PathLike[str] | None, run_ids: Sequence[str], *, common_only: bool = False,
                 summary: bool = False) -> pd.DataFrame:  # fmt: skip
    """The samples of ``run_ids`` ordered by time: run_id, deployment, url, name, common, labels (dict), value, t_s, wall.

    ``common_only``: the known families only; ``summary``: those without histogram buckets (what the charts read)."""
    import pandas as pd

    cols = ["run_id", *COLUMNS]
    if not run_ids:
        return pd.DataFrame(columns=cols)
    db = connect(db_path if db_path is not None else default_db_path())
    try:
        where = f"run_id IN ({', '.join('?' * len(run_ids))})" + (" AND common IS NOT NULL" if common_only or summary else "")
        where += " AND common NOT LIKE '%\\_bucket' ESCAPE '\\'" if summary else ""
        rows = db.execute(f"SELECT {', '.join(cols)} FROM server_samples WHERE {where} ORDER BY t_s, id", list(run_ids)).fetchall()
    finally:
        db.close()
    df = pd.DataFrame(rows, columns=cols)
    df["labels"] = [orjson.loads(v) if v else {} for v in df["labels"]]
    return df


def samples_frame(rows: Sequence[SampleRow], run_id: str = "") -> pd.DataFrame:
    """Samples kept in memory (``bench.scrape.Scraper.kept``) as ``load_samples`` gives stored ones."""
    import pandas as pd

    df = pd.DataFrame([(run_id, r.deployment, r.url, r.name, r.common, r.labels, r.value, r.t_s, r.wall) for r in rows],
                      columns=["run_id", *COLUMNS])  # fmt: skip
    return df.sort_values("t_s", kind="stable").reset_index(drop=True)
