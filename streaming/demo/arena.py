"""The arena: one prompt to 2–4 deployments at once, streamed side by side, with a live finish line.

Every column is a ``ThreadedReader`` over the same client path as the chat. The finish line orders
the columns by first token (TTFT) and by finish (e2e), from the figures the client stamps as bytes
arrive. A turn is saved as a linked group: its records share one ``pair_id`` (and ``prompt_id``),
so the Metrics page can pair deployments on the same prompts.

The servers' side of a race: ``start(scraper)`` takes the runs' scraper (``bench.scrape``, keeping its
samples in memory) from the race's start to its end; ``save_arena`` stores those samples with the
turn, on the demo run's clock (seconds since the run was opened), which the records' ``sent_s`` share.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from streaming.core.client import Client
from streaming.core.budgets import answer_budget
from streaming.core.config import Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest
from streaming.demo.format import status_word
from streaming.demo.reader import ThreadedReader
from streaming.store.samples import SampleRow, add_samples

MIN_COLUMNS, MAX_COLUMNS = 2, 4
CUT = "cut at max tokens (finish reason length)"


def linked_lanes(text: str, names: list[str]) -> tuple[list[str], str | None]:
    """``?lanes=a,b``: the names that exist, in order, and a sentence naming any that does not (and the names that do)."""
    asked = [n.strip() for n in text.split(",") if n.strip()]
    known = [n for n in asked if n in names]
    unknown = [n for n in asked if n not in names]
    if not unknown:
        return known, None
    which = ", ".join(repr(n) for n in unknown)
    return known, (f"?lanes: no deployment named {which}; the deployments are: {', '.join(names)}. "
                   "Fix the link's names (comma-separated) or pick the lanes below.")  # fmt: skip


SCRAPE_INTERVAL_S = 0.25  # a race lasts seconds: the benchmark's 1 s would see it once or twice


class RaceScraper(Protocol):
    """What the arena needs of a scraper (``bench.scrape.Scraper`` with ``keep``)."""

    kept: list[SampleRow] | None

    def start(self, origin: float | None = None) -> Any: ...

    def stop(self, final: bool = False) -> list[str]: ...


def arena_problem(names: list[str]) -> str | None:
    """Why this selection cannot race (fewer than 2 or more than 4 deployments), or None."""
    if not MIN_COLUMNS <= len(names) <= MAX_COLUMNS:
        return f"Deployments: pick {MIN_COLUMNS} to {MAX_COLUMNS} to race (now {len(names)})."
    return None


@dataclass
class Column:
    """One deployment's lane: its reader and the text shown so far."""

    deployment: Deployment
    reader: ThreadedReader
    text: str = ""


@dataclass(frozen=True)
class Standing:
    """One lane on the finish line: place by first token, place by finish, and its figures (None while unknown)."""

    deployment: str
    first_token_place: int | None
    finish_place: int | None
    ttft_s: float | None
    tokens_per_s: float | None
    e2e_s: float | None
    status: str  # streaming | ok | failed status words of the record
    finish_reason: str | None = None  # the record's, once the lane ended ("length": cut at max tokens)

    @property
    def cut(self) -> bool:
        """The answer was cut by max tokens (``finish_reason`` "length"), not ended by the model."""
        return self.finish_reason == "length"


class Arena:
    """The same request to several deployments, started together; ``cancel()`` stops every lane."""

    def __init__(self, client: Client, deployments: list[Deployment], req: LLMRequest) -> None:
        # A reasoning lane's thinking counts against max tokens: the default leaves it room for the answer (answer_budget).
        reqs = [req if req.max_tokens is None else replace(req, max_tokens=answer_budget(d, req.max_tokens)) for d in deployments]
        self.clock = client.clock
        self.columns = [Column(d, ThreadedReader(client.stream(d, r), client.clock)) for d, r in zip(deployments, reqs)]
        self.scraper: RaceScraper | None = None
        self.origin = 0.0  # the race's start on the client's clock
        self.clock_offset_s = 0.0  # time.time() − that clock: the wall-clock anchor the saved turn carries
        self.server_warnings: list[str] = []
        self._scrape_stopped = False

    def start(self, scraper: RaceScraper | None = None) -> Arena:
        """Start every lane; ``scraper``: the servers' metrics, scraped from now until ``join``."""
        self.origin = self.clock()
        self.clock_offset_s = time.time() - self.origin
        self.scraper = scraper
        if scraper is not None:
            scraper.start(origin=self.origin)
        for c in self.columns:
            c.reader.start()
        return self

    @property
    def samples(self) -> list[SampleRow]:
        """The servers' samples scraped during the race (``t_s``: seconds since its start)."""
        return list(self.scraper.kept or []) if self.scraper is not None else []

    def pump(self, timeout: float = 0.05) -> bool:
        """Move new text into each lane (waiting at most ``timeout`` in all); True while any lane is still streaming."""
        each = timeout / max(1, len(self.columns))
        for c in self.columns:
            new = c.reader.take(each)
            if new:
                c.text += "".join(new)
        return not self.finished

    @property
    def finished(self) -> bool:
        return all(c.reader.finished for c in self.columns)

    def cancel(self) -> None:
        for c in self.columns:
            c.reader.cancel()

    def join(self, timeout: float = 10.0) -> list[StreamRecord]:
        """Every lane's record, once it ended; the scraping stops here (what it could not scrape: ``server_warnings``)."""
        records = [c.reader.join(timeout) for c in self.columns]
        if self.scraper is not None and not self._scrape_stopped:
            self._scrape_stopped = True
            self.server_warnings = self.scraper.stop(final=True)  # the end state: a race may be shorter than the interval
        return records

    def standings(self, final: bool = False) -> list[Standing]:
        """The finish line now: live TTFT from the reader until a lane ends, then the record's figures (all of them when ``final``)."""
        rows = []
        for c in self.columns:
            if final or c.reader.finished:
                rec = c.reader.record
                rows.append((c.deployment.name, rec.ttft_s, rec.tokens_per_s, rec.e2e_s if rec.ok else None, rec.status, rec.finish_reason))
            else:
                s = c.reader.stats()
                rows.append((c.deployment.name, s.ttft_s, s.tokens_per_s, None, "streaming", None))
        first = sorted((r for r in rows if r[1] is not None), key=lambda r: r[1])
        done = sorted((r for r in rows if r[3] is not None), key=lambda r: r[3])
        fp = {r[0]: i + 1 for i, r in enumerate(first)}
        dp = {r[0]: i + 1 for i, r in enumerate(done)}
        return [Standing(n, fp.get(n), dp.get(n), t, tps, e2e, st, fr) for n, t, tps, e2e, st, fr in rows]


def place_line(s: Standing) -> str:
    """The line under a lane: its places and figures."""
    ordinal = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th"}
    parts = [f"first token {ordinal.get(s.first_token_place, '—')}" if s.first_token_place else "no token yet",
             f"finished {ordinal[s.finish_place]}" if s.finish_place else ("streaming…" if s.status == "streaming" else status_word(s.status))]  # fmt: skip
    parts.append(f"TTFT {s.ttft_s * 1000:.0f} ms" if s.ttft_s is not None else "TTFT —")
    parts.append(f"{s.tokens_per_s:.0f} tok/s" if s.tokens_per_s else "tok/s —")
    parts.append(f"e2e {s.e2e_s * 1000:.0f} ms" if s.e2e_s is not None else "e2e —")
    if s.cut:
        parts.append(CUT)
    return " · ".join(parts)


def run_zero(created_at: str, clock_offset_s: float) -> float:
    """A run's clock zero (its ``created_at``, ISO 8601 UTC) as a reading of the clock whose ``time.time() − clock()`` is ``clock_offset_s``."""
    return dt.datetime.fromisoformat(created_at.replace("Z", "+00:00")).timestamp() - clock_offset_s


def save_arena(records: list[StreamRecord], db: Any | None, prompt: str | None = None, arena: Arena | None = None) -> str | None:
    """Save one arena turn as a linked group (shared ``pair_id`` and ``prompt_id``) in the demo run; a sentence on failure.

    With its ``arena``: each record's ``sent_s`` and the race's scraped samples on the demo run's clock, and what
    could not be scraped added to the run's warnings."""
    if db is None:
        return None
    try:
        run_id = db.get_or_create_demo_run()
        group = "arena-" + uuid.uuid4().hex[:12]
        zero = run_zero(db.run_info(run_id)["created_at"], arena.clock_offset_s) if arena is not None else None
        for r in records:
            at: dict[str, Any] = {}
            if arena is not None and zero is not None:  # the demo run's clock: its zero on this client's clock
                at = {"run_start_s": zero, "clock_offset_s": arena.clock_offset_s, "sent_s": None if r.t0_monotonic is None else r.t0_monotonic - zero}
            db.add_record(run_id, r, tag="demo", pair_id=group, prompt_id=group, turn_kind="arena", **at,
                          **({"prompt": prompt[:2000]} if prompt else {}))  # fmt: skip
        if arena is not None and zero is not None:
            _save_server_side(db, run_id, arena.samples, arena.origin - zero, arena.server_warnings)
    except Exception as e:  # the demo matters more than the log
        return f"This arena turn was not saved to the results database ({type(e).__name__}: {str(e)[:120]})."
    return None


def _save_server_side(db: Any, run_id: str, samples: Sequence[SampleRow], shift_s: float, warnings: Sequence[str]) -> None:
    add_samples(db, run_id, [replace(s, t_s=s.t_s + shift_s) for s in samples])
    if warnings:
        db.add_warnings(run_id, warnings)
