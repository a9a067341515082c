"""The cost guard: estimates before any request, refuses above the budget without --yes, and sends nothing then."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from streaming.bench.guard import cost_guard, estimate_run, needs_confirmation
from streaming.bench.matrix import BenchConfig
from streaming.core.cost import count_tokens

ROOT = Path(__file__).resolve().parents[2]
KEY_VAR = "COST_GUARD_TEST_KEY"


class CountingServer(ThreadingHTTPServer):
    """A loopback HTTP server that counts every connection and request it sees (and answers 500)."""

    hits = 0
    connections = 0

    def get_request(self) -> Any:
        self.connections += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    def _any(self) -> None:
        self.server.hits += 1  # type: ignore[attr-defined]
        self.send_error(500)

    do_GET = do_POST = _any

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def counting() -> Iterator[CountingServer]:
    srv = CountingServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def deployments_file(tmp_path: Path, base_url: str, priced: bool = True) -> Path:
    price = "price_in_per_1m = 2.5\nprice_out_per_1m = 10\n" if priced else ""
    p = tmp_path / "deployments.toml"
    p.write_text(f'[[deployments]]\nname = "paid"\nprovider = "compatible"\nbase_url = "{base_url}/v1"\nmodel = "sim-fast"\n'
                 f'api_key_env = "{KEY_VAR}"\n{price}')  # fmt: skip
    return p


def test_a_5000_request_run_on_a_keyed_deployment_is_refused_without_yes_and_nothing_is_sent(counting: CountingServer, tmp_path: Path) -> None:
    deps = deployments_file(tmp_path, f"http://127.0.0.1:{counting.server_address[1]}")
    db = tmp_path / "results.db"
    env = dict(os.environ, **{KEY_VAR: "sk-cost-guard-test"})
    r = subprocess.run([sys.executable, "-m", "streaming", "--deployments", str(deps), "bench", "-d", "paid", "-n", "5000", "--db", str(db)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)  # fmt: skip
    assert r.returncode == 2, r.stderr
    est = estimate_run(BenchConfig(deployments=["paid"], requests=5000, deployments_file=str(deps)))
    assert est.requests == 5001  # 5,000 measured + 1 warmup
    assert r.stderr.strip() == est.refusal(200_000)
    assert r.stderr.startswith("Not started: 5,001 requests to paid: about ") and "nothing was sent" in r.stderr and "$" in r.stderr
    assert counting.hits == 0 and counting.connections == 0  # the deployment saw nothing
    assert not db.exists() and r.stdout == ""  # a refused run leaves nothing behind but its sentence


@pytest.mark.slow
def test_yes_or_a_higher_budget_lets_the_run_go(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """Through ``streaming.cli.main`` in this process (the refusal above is the real process, with no terminal)."""
    from streaming.cli import main

    deps = deployments_file(tmp_path, server.url)
    monkeypatch.setenv(KEY_VAR, "sk-cost-guard-test")
    base = ["--deployments", str(deps), "bench", "-d", "paid", "-n", "4", "--warmup", "0", "--max-tokens", "8", "--db", str(tmp_path / "r.db"), "-q"]
    for extra in (["--budget-tokens", "10", "--yes"], ["--budget-tokens", "100000"]):
        capsys.readouterr()
        assert main([*base, *extra]) == 0, capsys.readouterr().err
        out, err = capsys.readouterr()
        assert "run finished" in out
        assert ("going ahead: --yes" in err) == ("--yes" in extra)


def test_the_estimate_counts_prompt_tokens_with_the_tokenizer_and_output_from_max_tokens(tmp_path: Path) -> None:
    deps = deployments_file(tmp_path, "http://127.0.0.1:9")
    cfg = BenchConfig(deployments=["paid", "sim-fast"], prompts=["Name three colours.", "Say hello."], repeats=3, mode="both",
                      max_tokens=50, warmup=2, deployments_file=str(deps))  # fmt: skip
    est = estimate_run(cfg)
    assert [d.name for d in est.per_deployment] == ["paid"]  # built-ins cost nothing
    n = 2 * 3 * 2  # prompts × repeats × modes
    per = {t: count_tokens(t) + 3 + 3 for t in ("Name three colours.", "Say hello.")}
    assert count_tokens("Name three colours.") == 4
    assert est.requests == n + 2
    assert est.input_tokens == 6 * per["Name three colours."] + 6 * per["Say hello."] + 2 * per["Name three colours."]
    assert est.output_tokens == (n + 2) * 50
    assert est.cost_usd == pytest.approx((est.input_tokens * 2.5 + est.output_tokens * 10) / 1e6)


def test_built_ins_and_unpriced_deployments(tmp_path: Path) -> None:
    assert needs_confirmation(BenchConfig(deployments=["sim-fast"], requests=100_000), 0) is None
    deps = deployments_file(tmp_path, "http://127.0.0.1:9", priced=False)
    est = needs_confirmation(BenchConfig(deployments=["paid"], requests=2000, deployments_file=str(deps)), 200_000)
    assert est is not None and est.cost_usd is None
    assert "no price set for paid: add price_in_per_1m and price_out_per_1m" in est.sentence()


class _Tty:
    def __init__(self, answer: str) -> None:
        self.answer = answer

    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        return self.answer


def test_on_a_terminal_it_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    cfg = BenchConfig(deployments=["paid"], requests=5000, deployments_file=str(deployments_file(tmp_path, "http://127.0.0.1:9")))
    assert cost_guard(cfg, 200_000, False, _Tty("y\n")) is None
    assert cost_guard(cfg, 200_000, False, _Tty("\n")) == 2
    err = capsys.readouterr().err
    assert "Send these requests? [y/N]" in err and "Not started: nothing was sent." in err
    assert cost_guard(cfg, 10_000_000, False, _Tty("")) is None  # within budget: no question


# -- the Benchmark page: the estimate and a confirm button; nothing is sent before the click ---------------------

PAGE = str(ROOT / "pages" / "benchmark.py")


def bench_page(deps: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "page.db"))
    monkeypatch.setenv(KEY_VAR, "sk-cost-guard-test")
    at = AppTest.from_file(PAGE, default_timeout=30).run()
    at.multiselect(key="deployments").set_value(["paid"])
    return at


def test_the_page_shows_the_estimate_and_sends_nothing_until_confirmed(counting: CountingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    at = bench_page(deployments_file(tmp_path, f"http://127.0.0.1:{counting.server_address[1]}"), tmp_path, monkeypatch)
    at.number_input(key="requests").set_value(5000)
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    warning = [w.value for w in at.warning if w.value.startswith("Cost guard:")]
    assert len(warning) == 1 and "5,001 requests to paid" in warning[0] and "above the budget of 200,000 tokens. Nothing has been sent." in warning[0]
    assert "$" in warning[0] and "bench_job" not in at.session_state
    assert [b.label for b in at.button if b.key in ("cost_confirm", "cost_cancel")] == ["Confirm: send 5,001 requests", "Cancel"]
    at.button(key="cost_cancel").click().run()
    assert not [w for w in at.warning if w.value.startswith("Cost guard:")] and "bench_job" not in at.session_state
    assert counting.hits == 0 and counting.connections == 0 and not (tmp_path / "page.db").exists()


def test_confirming_on_the_page_starts_the_run(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_BUDGET_TOKENS", "10")
    at = bench_page(deployments_file(tmp_path, server.url), tmp_path, monkeypatch)
    at.number_input(key="requests").set_value(2)
    at.number_input(key="warmup").set_value(0)
    at.number_input(key="max_tokens").set_value(4)
    next(b for b in at.button if b.label == "Start").click()
    at.run()
    assert "bench_job" not in at.session_state
    at.button(key="cost_confirm").click().run()
    job = at.session_state["bench_job"]
    assert job.wait(60) and job.progress is not None and job.progress.done == 2
