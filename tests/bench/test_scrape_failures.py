"""Failures are data: a metrics endpoint that hangs, or answers with something that is not Prometheus text (a real
loopback server doing just that), leaves the run's client figures as they are without scraping, and is named in the
run's warnings."""

from __future__ import annotations

import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from streaming.analysis.tables import headlines
from streaming.bench.matrix import BenchConfig
from streaming.bench.runner import run_benchmark
from streaming.core.config import Deployment, SimProfile
from streaming.server.launcher import ServerHandle
from streaming.store import Store, load_requests
from streaming.store.samples import load_samples


DRIFT_S = 0.005


class _Bad(http.server.BaseHTTPRequestHandler):
    release = threading.Event()
    answered_once: set[str] = set()

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        once = self.path == "/once" and self.path in self.answered_once  # "/once": a page at first, then silence
        if self.path == "/hang" or once:  # reads the request, then says nothing until the test ends
            self.release.wait(30)
            return
        if self.path == "/once":
            self.answered_once.add(self.path)
            self.path = "/declared"
        body = {"/declared": b"# HELP vllm:num_requests_waiting Waiting.\n# TYPE vllm:num_requests_waiting gauge\n", "/blank": b""}.get(
            self.path, b"<html><body><h1>Welcome</h1><p>nothing to see</p></body></html>")  # fmt: skip
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bad_metrics() -> Iterator[str]:
    _Bad.release.clear()  # an earlier test's teardown released its hangs
    _Bad.answered_once.clear()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Bad)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        _Bad.release.set()
        srv.shutdown()
        srv.server_close()


def _run(db: Path, metrics_url: str) -> tuple[str, list[str]]:
    name = f"sim-scr-{uuid.uuid4().hex[:6]}"
    dep = Deployment(name=name, provider="simulated", model=name, metrics_url=metrics_url,
                     sim=SimProfile(ttft_ms=100, tokens_per_s=100, output_tokens=20, jitter=0.0))  # fmt: skip
    with Store(db) as st:
        run = run_benchmark(BenchConfig(deployments=[dep], mode="stream", requests=40, concurrency=8, warmup=1, prompts=["p"],
                                        scrape_interval_s=0.2, scrape_timeout_s=0.3), st)  # fmt: skip
        return run, st.run_info(run)["warnings"]


def test_a_hanging_or_garbage_metrics_endpoint_changes_no_client_figure_and_is_named(server: ServerHandle, bad_metrics: str,
                                                                                     tmp_path: Path) -> None:  # fmt: skip
    db = tmp_path / "bad.db"
    base, base_warnings = _run(db, "")  # metrics_url = "": no scraping at all
    hang, hang_warnings = _run(db, f"{bad_metrics}/hang")
    garbage, garbage_warnings = _run(db, f"{bad_metrics}/garbage")
    base2, base2_warnings = _run(db, "")  # before and after: the spread a busy machine gives two runs without scraping
    assert not [w for w in base_warnings + base2_warnings if w.startswith("server metrics:")]
    (hw,) = [w for w in hang_warnings if w.startswith("server metrics:")]
    assert f"{bad_metrics}/hang" in hw and "no answer within 0.3 s" in hw
    (gw,) = [w for w in garbage_warnings if w.startswith("server metrics:")]
    assert f"{bad_metrics}/garbage" in gw and "not Prometheus text" in gw
    assert load_samples(db, [base, hang, garbage, base2]).empty  # nothing was stored from either

    ttft = {}
    for run in (base, hang, garbage, base2):
        df = load_requests(db, [run])
        assert len(df) == 40 and (df["status"] == "ok").all()
        ((ttft[run]),) = [h.ttft for h in headlines(df)]
    lo, hi = min(ttft[base].value, ttft[base2].value), max(ttft[base].value, ttft[base2].value)
    ci_lo, ci_hi = min(ttft[base].lo, ttft[base2].lo), max(ttft[base].hi, ttft[base2].hi)
    for run in (hang, garbage):
        t = ttft[run]
        assert lo - 0.01 <= t.value <= hi + 0.01, (t, ttft[base], ttft[base2])  # the median TTFT within the baselines' spread (±10 ms)
        # error bars that overlap the baselines' hull, give or take the few ms two runs drift apart on a shared 2-core machine
        assert t.lo <= ci_hi + DRIFT_S and ci_lo - DRIFT_S <= t.hi, (t, ttft[base], ttft[base2])


def test_a_guessed_default_that_does_not_answer_is_tried_once_and_said_once(bad_metrics: str, tmp_path: Path) -> None:
    from streaming.bench.scrape import Scraper, Target

    with Store(tmp_path / "d.db") as st:
        run = st.create_run("bench", {})
        guessed = Scraper(st, run, [Target(f"{bad_metrics}/garbage", False, {"m": "my-vllm"})], interval_s=0.05, timeout_s=0.5).start(0.0)
        (thread,) = guessed.threads
        thread.join(5)  # a dropped default ends its own thread after the first try
        assert not thread.is_alive() and thread.tries == 1
        (w,) = guessed.stop()
        assert w.startswith("server metrics: nothing scraped for my-vllm:") and "not Prometheus text" in w and "metrics_url" in w
        never = Scraper(st, run, [Target(f"{bad_metrics}/garbage", True, {"m": "x"})], interval_s=0.05)
        assert never.stop() == []  # built, never started (the run failed first): nothing to say, nothing left open


def test_a_page_that_declares_its_families_but_has_no_samples_yet_is_not_a_failure(bad_metrics: str) -> None:
    """A server that has served nothing yet (the built-in one, fresh) declares its families with no samples; a blank 200 is not a page."""
    from streaming.bench.scrape import Scraper, Target

    targets = [Target(f"{bad_metrics}/declared", True, {"m": "fresh"}), Target(f"{bad_metrics}/blank", True, {"m": "blank"})]
    scraper = Scraper(None, "", targets, interval_s=0.05, keep=True).start()  # no store: the samples are kept in memory only
    while min(t.tries for t in scraper.threads) < 3:
        scraper.stopped.wait(0.02)
    (w,) = scraper.stop()
    assert w.startswith(f"server metrics: could not scrape {bad_metrics}/blank (blank) ") and "an answer with no samples" in w
    assert scraper.kept == [] and scraper.stored == 0


def test_the_extra_look_at_the_stop_is_not_a_failure_when_the_stop_cuts_it_short(bad_metrics: str) -> None:
    """``stop(final=True)`` scrapes once more; a server too busy to answer within the stop's wait is not named as failing.
    A scrape already under way before the stop, abandoned, still is."""
    from streaming.bench.scrape import Scraper, Target

    quiet = Scraper(None, "", [Target(f"{bad_metrics}/once", True, {"m": "busy"})], interval_s=30, keep=True).start()
    while quiet.threads[0].tries < 1 or quiet.threads[0].busy_since is not None:  # the first look answered; the next is 30 s away
        quiet.stopped.wait(0.01)
    assert quiet.stop(final=True) == [] and quiet.threads[0].tries == 2  # the extra look was taken, and hung
    hanging = Scraper(None, "", [Target(f"{bad_metrics}/hang", True, {"m": "hung"})], interval_s=30, keep=True).start()
    while hanging.threads[0].busy_since is None:
        hanging.stopped.wait(0.01)
    (w,) = hanging.stop(final=True)
    assert "when the run ended" in w and "(hung)" in w
