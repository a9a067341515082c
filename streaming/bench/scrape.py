"""Scraping the servers' Prometheus metrics while a run goes on, off the measured path.

Each metrics URL gets its own thread with its own HTTP client and timeout, so an endpoint that
hangs, answers slowly or sends garbage costs the run nothing: the requests run on the runner's
event loop and never wait for a scrape. Each scrape is stored as it lands (``store.samples``), at
the midpoint of its send and its answer on the run's clock (``keep``: also kept in memory, for a run
that stores its samples at its end, like an arena race). What could not be scraped, and why,
becomes the run's warnings (``Scraper.stop``).

Which URL (``metrics_url_for``): the deployment's ``metrics_url``; else the built-in server's
``/metrics`` for the built-in deployments; else, for a ``compatible`` server, its root's ``/metrics``
when it answers (a default that does not answer the first time is tried no more, and said once).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx2

from streaming.core.prometheus import Sample, parse_exposition
from streaming.core.config import Deployment
from streaming.core.transport.tls import trusted_context
from streaming.store.samples import SampleRow, add_samples

DEFAULT_INTERVAL_S = 1.0
DEFAULT_TIMEOUT_S = 2.0
MAX_BODY_BYTES = 8 * 1024 * 1024  # a vLLM page is ~100 KB; more than this is not a metrics page
STOP_JOIN_S = 0.25  # how long stop() waits for a scrape under way (a hanging one is abandoned: its thread is a daemon)
MODEL_LABELS = ("model_name", "model")
DECLARED = re.compile(r"^# TYPE \S+ \S+", re.MULTILINE)


def metrics_url_for(dep: Deployment, server_url: str | None) -> tuple[str, bool] | None:
    """(URL, named) for ``dep``: named URLs report every failure; a guessed default that does not answer is dropped."""
    if dep.metrics_url == "":
        return None
    if dep.metrics_url:
        return dep.metrics_url, True
    if dep.builtin:
        return (server_url.rstrip("/") + "/metrics", True) if server_url else None
    if dep.provider == "compatible" and dep.base_url:
        root = dep.base_url.rstrip("/")
        root = root[: -len("/v1")] if root.endswith("/v1") else root
        return root + "/metrics", False
    return None  # Azure and OpenAI publish no Prometheus metrics: their side is the rate-limit headers


@dataclass
class Target:
    """One metrics URL and the run's deployments it speaks for."""

    url: str
    named: bool
    deployments: dict[str, str] = field(default_factory=dict)  # model or name → deployment name

    def assign(self, samples: Sequence[Sample]) -> list[tuple[Sample, str | None]]:
        """Each kept sample with its deployment: by its model label; a sample of another model is not this run's.

        A server whose labels name none of the run's models (a served-model alias) speaks for its one deployment whole."""
        models = [next((s.labels[k] for k in MODEL_LABELS if k in s.labels), None) for s in samples]
        names = set(self.deployments.values())
        if len(names) == 1 and not any(m in self.deployments for m in models if m is not None):
            only = next(iter(names))
            return [(s, only) for s in samples]
        sole = next(iter(names)) if len(names) == 1 else None  # a server-wide sample (no model label)
        return [(s, sole if m is None else self.deployments[m]) for s, m in zip(samples, models) if m is None or m in self.deployments]

    @property
    def label(self) -> str:
        return ", ".join(sorted(set(self.deployments.values())))


def targets_for(deps: Sequence[Deployment], server_url: str | None) -> list[Target]:
    """One target per distinct URL (the built-in server's deployments share one)."""
    out: dict[str, Target] = {}
    for d in deps:
        found = metrics_url_for(d, server_url)
        if found is None:
            continue
        t = out.setdefault(found[0], Target(found[0], found[1]))
        t.named = t.named or found[1]
        t.deployments[d.model or d.name] = d.name
        t.deployments[d.name] = d.name
    return list(out.values())


class _TargetThread(threading.Thread):
    """Scrapes one target every ``interval_s`` until stopped; counts what failed and why."""

    def __init__(self, target: Target, owner: Scraper) -> None:
        super().__init__(name=f"scrape {target.url}", daemon=True)
        self.target, self.owner = target, owner
        self.tries = 0
        self.failures: dict[str, int] = {}
        self.dropped: str | None = None  # a default URL that did not answer: why
        self.busy_since: float | None = None  # a scrape under way since then

        # built here, in the thread that creates the scraper: the first client of a process builds its TLS context, which
        # holds the GIL for milliseconds, and the run's event loop would feel that once the load is on
        self.http = httpx2.Client(timeout=owner.timeout_s, follow_redirects=False, trust_env=False, verify=trusted_context(trust_env=False))

    def run(self) -> None:
        o = self.owner
        with self.http as http:
            due = max(o.clock(), o.origin)  # never before the run's zero (a coordinator starts it ahead of the go)
            o.stopped.wait(due - o.clock())
            while not o.stopped.is_set():
                self._once(http)
                if self.dropped is not None:
                    return
                due += o.interval_s
                now = o.clock()
                due = max(due, now)  # a slow scrape skips the ticks it missed, never bunches them
                o.stopped.wait(due - now)
            if o.final:  # the run's end state too (a run shorter than the interval is seen at its end)
                self._once(http)

    def _once(self, http: httpx2.Client) -> None:
        o, t = self.owner, self.target
        self.tries += 1
        sent = self.busy_since = o.clock()
        try:
            samples = self._fetch(http)
        except Exception as e:  # every failure is data: counted, named in the run's warnings
            why = _reason(e, o.timeout_s)
            if not t.named and self.tries == 1:
                self.dropped = why
            else:
                self.failures[why] = self.failures.get(why, 0) + 1
            return
        finally:
            self.busy_since = None
        got = o.clock()
        at, wall = (sent + got) / 2 - o.origin, o.wall() - (got - sent) / 2
        rows = [SampleRow(dep, t.url, s.name, s.common, s.labels, s.value, at, wall) for s, dep in t.assign(samples)]
        o.sink(rows, self)

    def _fetch(self, http: httpx2.Client) -> list:
        deadline = self.owner.clock() + self.owner.timeout_s
        with http.stream("GET", self.target.url, headers={"accept": "text/plain"}) as r:
            if r.status_code != 200:
                raise _Bad(f"HTTP {r.status_code}")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_BODY_BYTES:
                    raise _Bad(f"an answer over {MAX_BODY_BYTES // 2**20} MB")
                if self.owner.clock() > deadline:
                    raise _Bad(f"an answer slower than {self.owner.timeout_s:g} s")
        try:
            text = body.decode("utf-8")
            samples = parse_exposition(text)
        except (ValueError, UnicodeDecodeError) as e:
            raise _Bad(f"not Prometheus text ({str(e)[:80]})") from None
        if not samples and not DECLARED.search(text):  # families declared, none observed yet (a server that has served nothing): fine
            raise _Bad("an answer with no samples")
        return samples

    def warning(self) -> str | None:
        t = self.target
        since = self.busy_since
        if since is not None and self.owner.final and since >= self.owner.stopped_at:
            since = None  # the extra look asked for at the stop, cut short by the stop's own wait: no fault of the server's
        if since is not None:  # a scrape under way since before the end, abandoned: it counts too
            why = f"no answer yet after {self.owner.clock() - since:.1f} s when the run ended"
            self.failures[why] = self.failures.get(why, 0) + 1
        if self.dropped is not None:
            return (f"server metrics: nothing scraped for {t.label}: {t.url} gave {self.dropped}; name the server's metrics page "
                    f'with metrics_url in deployments.toml (or metrics_url = "" to not try)')  # fmt: skip
        if not self.failures:
            return None
        n = sum(self.failures.values())
        why = "; ".join(f"{k} ({v}×)" for k, v in sorted(self.failures.items(), key=lambda kv: -kv[1]))
        return f"server metrics: could not scrape {t.url} ({t.label}) {n} of {self.tries} times: {why}"


class _Bad(Exception):
    """An answer that is not a metrics page (its status, size, speed or text)."""


def _reason(e: Exception, timeout_s: float) -> str:
    if isinstance(e, _Bad):
        return str(e)
    if isinstance(e, httpx2.TimeoutException):
        return f"no answer within {timeout_s:g} s"
    if isinstance(e, httpx2.ConnectError):
        return "connection refused or unreachable"
    return f"{type(e).__name__}: {str(e)[:80]}"


class Scraper:
    """The run's scraping: one thread per target, samples stored as they land, warnings when stopped."""

    def __init__(self, store: object | None, run_id: str, targets: Sequence[Target], interval_s: float = DEFAULT_INTERVAL_S,
                 timeout_s: float = DEFAULT_TIMEOUT_S, origin: float = 0.0, clock: Callable[[], float] = time.perf_counter,
                 wall: Callable[[], float] = time.time, keep: bool = False) -> None:  # fmt: skip
        """``store`` None: nothing stored (``keep`` the samples instead); ``keep``: every sample also in ``kept``, in order."""
        self.store, self.run_id = store, run_id
        self.kept: list[SampleRow] | None = [] if keep else None
        self.interval_s, self.timeout_s, self.origin = interval_s, timeout_s, origin
        self.clock, self.wall = clock, wall
        self.stopped = threading.Event()
        self.final = False
        self.stopped_at = float("inf")
        self._lock = threading.Lock()
        self._closed = False
        self.stored = 0
        self.store_errors: list[str] = []
        self.threads = [_TargetThread(t, self) for t in targets]

    def start(self, origin: float | None = None) -> Scraper:
        """Start scraping; ``origin``: the run clock's zero (the runner's start), if not given at construction.

        An origin still ahead on the clock (a scale-out run's agreed start) holds the first scrape until then."""
        if origin is not None:
            self.origin = origin
        for t in self.threads:
            t.start()
        return self

    def sink(self, rows: list[SampleRow], thread: _TargetThread) -> None:
        with self._lock:
            if self._closed:  # a scrape that outlived the run: not stored
                return
            if self.kept is not None:
                self.kept.extend(rows)
            if self.store is None:
                self.stored += len(rows)
                return
            try:
                self.stored += add_samples(self.store, self.run_id, rows)
            except Exception as e:  # the database refused: said once, the run goes on
                if not self.store_errors:
                    self.store_errors.append(f"server metrics: samples of {thread.target.url} could not be stored: {e}")

    def stop(self, final: bool = False) -> list[str]:
        """Stop every thread (a scrape under way is abandoned after ``STOP_JOIN_S``); the run's warnings.

        ``final``: each target scraped once more as it stops (within the same ``STOP_JOIN_S``), the state at the run's end."""
        self.final = final
        self.stopped_at = self.clock()
        self.stopped.set()
        for t in self.threads:
            if t.ident is None:  # never started (the run failed first): only its client to close
                t.http.close()
            else:
                t.join(STOP_JOIN_S)
        with self._lock:
            self._closed = True
        return [w for t in self.threads if (w := t.warning())] + self.store_errors


def scraper_for(store: object | None, run_id: str, deps: Sequence[Deployment], server_url: str | None, interval_s: float,
                timeout_s: float = DEFAULT_TIMEOUT_S, clock: Callable[[], float] = time.perf_counter, keep: bool = False) -> Scraper | None:  # fmt: skip
    """A Scraper for ``deps``' metrics URLs, ready to ``start`` (its clients already built), or None (``interval_s`` 0, nothing to scrape)."""
    targets = targets_for(deps, server_url) if interval_s > 0 else []
    if not targets:
        return None
    return Scraper(store, run_id, targets, interval_s, timeout_s, clock=clock, keep=keep)


def server_side_of(db_path: str | None, runs: Any, requests: Any) -> Any:
    """The "Server side" (``analysis.server_charts.ServerSide``) of ``runs`` (rows of ``store.list_runs``) for these request rows."""
    from streaming.analysis.server_charts import server_side
    from streaming.store.samples import load_samples
    from streaming.store.sweeps import run_configs

    ids = [str(r) for r in runs["run_id"]]
    return server_side(load_samples(db_path, ids, summary=True), requests, run_configs(db_path, ids), [w for ws in runs["warnings"] for w in ws])
