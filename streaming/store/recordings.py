"""Recorded runs for replay deployments (``provider = "replay"``): which run a replay plays, its answers, its label.

A replay names a run (``run``), a deployment (``deployment``: its latest run with a successful
answer), or both (that deployment within that run). Its answers are the run's successful,
non-warmup requests of that deployment, each with its text, chunk timings and, when it was
stored, its prompt. Streamed answers are preferred; a run of only non-streaming answers plays
each as one piece at its recorded end-to-end time. Replays of replays are never played.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from streaming.core.config import Deployment
from streaming.core.replay import RecordedAnswer, Recording, replay_label
from streaming.errors import ConfigError
from streaming.store.schema import NUM_LAYOUTS, connect, default_db_path

RECHECK_S = 10.0  # how often a served replay looks for a newer recorded run (``deployment = "NAME"``)
_USABLE = "r.warmup = 0 AND r.status = 'ok' AND COALESCE(r.provider, '') != 'replay'"


def db_path_of(dep: Deployment, db_path: str | os.PathLike[str] | None = None) -> str:
    """The database a replay reads: its own ``db``, else ``db_path``, else the default (``$STREAMING_DB`` or ./data/streaming.db)."""
    return str(dep.replay_db or db_path or default_db_path())


def resolve(dep: Deployment, db_path: str | os.PathLike[str] | None = None) -> tuple[str, str, str]:
    """(run id, recorded deployment, recorded date) of a replay, or a ConfigError that says what is missing and what exists."""
    path = db_path_of(dep, db_path)
    where = f"replay deployment '{dep.name}'"
    if str(path) != ":memory:" and not Path(path).is_file():
        raise ConfigError(f"{where}: the results database {path} does not exist; record a run first (python -m streaming bench …)")
    db = connect(path)
    try:
        if dep.replay_run is not None:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (dep.replay_run,)).fetchone() is None:
                recent = [r[0] for r in db.execute("SELECT id FROM runs ORDER BY created_at DESC LIMIT 5")]
                raise ConfigError(f"{where}: field 'run': no run '{dep.replay_run}' in {path}; recent runs: {', '.join(recent) or 'none'}")
            names = [r[0] for r in db.execute(f"SELECT DISTINCT r.deployment FROM requests r WHERE r.run_id = ? AND {_USABLE} ORDER BY 1",
                                              (dep.replay_run,))]  # fmt: skip
            if dep.replay_of is not None:
                if dep.replay_of not in names:
                    raise ConfigError(f"{where}: field 'deployment': run '{dep.replay_run}' has no successful answer of '{dep.replay_of}'; "
                                      f"it has: {', '.join(names) or 'none'}")  # fmt: skip
                names = [dep.replay_of]
            if not names:
                raise ConfigError(f"{where}: run '{dep.replay_run}' has no successful answer to replay")
            if len(names) > 1:
                raise ConfigError(f"{where}: run '{dep.replay_run}' recorded {len(names)} deployments ({', '.join(names)}); "
                                  f'add deployment = "NAME" to pick one')  # fmt: skip
            run_id, name = dep.replay_run, names[0]
        else:
            row = db.execute(f"SELECT r.run_id FROM requests r WHERE r.deployment = ? AND {_USABLE} ORDER BY r.id DESC LIMIT 1",
                             (dep.replay_of,)).fetchone()  # fmt: skip
            if row is None:
                known = [r[0] for r in db.execute(f"SELECT DISTINCT r.deployment FROM requests r WHERE {_USABLE} ORDER BY 1")]
                raise ConfigError(f"{where}: field 'deployment': no successful answer of '{dep.replay_of}' is recorded in {path}; "
                                  f"recorded deployments: {', '.join(known) or 'none'}")  # fmt: skip
            run_id, name = row[0], str(dep.replay_of)
        last = db.execute(f"SELECT MAX(r.created_at) FROM requests r WHERE r.run_id = ? AND r.deployment = ? AND {_USABLE}",
                          (run_id, name)).fetchone()[0]  # fmt: skip
    finally:
        db.close()
    return run_id, name, str(last or "")


def _prompts_of_run(path: str, run_id: str) -> dict[str, str]:
    """The prompt texts a benchmark run stored in its config (``prompt_texts``: prompt id → text)."""
    db = connect(path)
    try:
        row = db.execute("SELECT config FROM runs WHERE id = ?", (run_id,)).fetchone()
    finally:
        db.close()
    config = orjson.loads(row[0]) if row and row[0] else {}
    texts = config.get("prompt_texts") if isinstance(config, dict) else None
    return {str(k): str(v) for k, v in texts.items()} if isinstance(texts, dict) else {}


def _text(v: Any) -> str:
    return v if isinstance(v, str) else ""


def _num(v: Any) -> float | None:
    """A number, or None for None and NaN."""
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _int(v: Any) -> int | None:
    f = _num(v)
    return None if f is None else int(f)


_BLOB_AT = {c: i for i, c in enumerate(c for layout in NUM_LAYOUTS for c in layout)}  # a column's place in the ``num`` blob


def _from_blob(blob: bytes | None, column: str) -> float | None:
    """One column of a row's packed ``num`` blob (None when the row's layout predates it, or it is NaN)."""
    i = _BLOB_AT[column]
    if not blob or len(blob) < (i + 1) * 8:
        return None
    return _num(np.frombuffer(blob, dtype=np.float64, count=1, offset=i * 8)[0])


def load_recording(dep: Deployment, db_path: str | os.PathLike[str] | None = None) -> Recording:
    """The recording a replay deployment plays, or a ConfigError naming what is missing. Plain SQLite: no pandas in a server."""
    path = db_path_of(dep, db_path)
    run_id, name, last = resolve(dep, path)
    db = connect(path)
    try:
        rows = db.execute(
            f"""SELECT r.id, r.provider, r.model, r.text, r.stream, r.chunks, r.finish_reason, r.e2e_s, r.output_tokens, r.input_tokens,
                       r.prompt_id, r.extra, r.num, t.t_s, t.chars
                FROM requests r LEFT JOIN timeline t ON t.request_id = r.id
                WHERE r.run_id = ? AND r.deployment = ? AND {_USABLE} ORDER BY r.seq, r.id""",
            (run_id, name),
        ).fetchall()  # fmt: skip
    finally:
        db.close()
    streamed = [r for r in rows if r[4] and (r[5] or 0) > 0]
    texts = _prompts_of_run(path, run_id)
    answers = []
    for rid, _prov, _model, text, _stream, _chunks, finish, e2e, out_tokens, in_tokens, prompt_id, extra, num, t_s, chars in streamed or rows:
        text = _text(text)
        if streamed:
            times = np.frombuffer(t_s or b"", dtype=np.float64).tolist()
            pieces, times_t = RecordedAnswer.split(text, np.frombuffer(chars or b"", dtype=np.int32).tolist(), times)
        else:
            pieces, times_t = ((text,), (float(e2e),)) if _num(e2e) is not None else ((), ())
        if not pieces:
            continue
        more = orjson.loads(extra) if extra else {}
        prompt = more.get("prompt") if isinstance(more.get("prompt"), str) else texts.get(str(prompt_id)) if prompt_id is not None else None
        answers.append(RecordedAnswer(
            pieces=pieces, times_s=times_t, prompt=prompt, finish_reason=finish or "stop", output_tokens=_int(out_tokens),
            input_tokens=_int(in_tokens), t_first_reasoning_s=_from_blob(num, "t_first_reasoning_s"), reasoning_text=_text(more.get("reasoning_text")),
            reasoning_tokens=_int(_from_blob(num, "reasoning_tokens")), request_key=int(rid),
        ))  # fmt: skip
    if not answers:
        raise ConfigError(f"replay deployment '{dep.name}': run '{run_id}' has no answer of '{name}' with text to replay")
    first = (streamed or rows)[0]
    return Recording(source=name, provider=str(first[1] or ""), model=str(first[2] or ""), run_id=run_id, recorded_at=last, answers=tuple(answers))


def _recorded(dep: Deployment, db_path: str | os.PathLike[str] | None) -> tuple[str, str | None, str | None]:
    """(label, the recording's API, its reasoning effort or None) of a replay, or a ConfigError."""
    path = db_path_of(dep, db_path)
    run_id, name, last = resolve(dep, path)
    db = connect(path)
    try:
        row = db.execute(f"SELECT r.provider, r.api, r.extra FROM requests r WHERE r.run_id = ? AND r.deployment = ? AND {_USABLE} "
                         "ORDER BY r.id DESC LIMIT 1", (run_id, name)).fetchone()  # fmt: skip
    finally:
        db.close()
    extra = orjson.loads(row[2]) if row and row[2] else {}
    return replay_label(name, str(row[0] if row else ""), last), (row[1] if row else None), extra.get("reasoning_effort")


def label_of(dep: Deployment, db_path: str | os.PathLike[str] | None = None) -> str:
    """``replay of gpt-4o (Azure, recorded 2026-11-20)``, or a ConfigError."""
    return _recorded(dep, db_path)[0]


def load_labelled(path: str | os.PathLike[str] | None = None, db_path: str | os.PathLike[str] | None = None) -> list[Deployment]:
    """``load_deployments(path)`` with every replay labelled from the database: what the app, the pages and the CLI show."""
    from streaming.core.config import load_deployments

    return with_replay_labels(load_deployments(path), db_path)


def with_replay_labels(deps: Sequence[Deployment], db_path: str | os.PathLike[str] | None = None) -> list[Deployment]:
    """The deployments, each replay's label filled in from the database (when it cannot be played: ``replay_problem``, the reason)."""
    out = []
    for d in deps:
        if d.provider == "replay":
            try:  # the database named once for all: a server started elsewhere reads the same file
                label, api, effort = _recorded(d, db_path)
                d = replace(d, replay_label=label, replay_db=str(Path(db_path_of(d, db_path)).resolve()))
                if "api" in d.replay_inherits and api in ("chat", "responses", "completions"):
                    d = replace(d, api=api)
                if "reasoning" in d.replay_inherits and effort:  # recorded as a reasoning model: replayed as one
                    d = replace(d, reasoning=True, reasoning_effort=d.reasoning_effort or effort)
            except ConfigError as e:
                d = replace(d, replay_problem=str(e).removeprefix(f"replay deployment '{d.name}': "))
        out.append(d)
    return out


class RecordingLibrary:
    """The recordings a server plays, loaded on first use and reloaded when a newer run of the recorded deployment appears."""

    def __init__(self, db_path: str | os.PathLike[str] | None = None) -> None:
        self.db_path = db_path
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, str | None, str], tuple[Recording, float]] = {}

    def get(self, dep: Deployment) -> Recording:
        key = (dep.replay_run, dep.replay_of, str(Path(db_path_of(dep, self.db_path)).resolve()))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and time.monotonic() - hit[1] < RECHECK_S:
                return hit[0]
            if hit is not None and resolve(dep, self.db_path)[0] == hit[0].run_id:
                self._cache[key] = (hit[0], time.monotonic())
                return hit[0]
            rec = load_recording(dep, self.db_path)
            self._cache[key] = (rec, time.monotonic())
            return rec
