"""Loopback by default; exposed with keyed deployments: sign-in (passcode or OIDC) or refusal; per-session turn limits."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import http_get
import tomllib
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from streaming.access import (
    DEFAULT_TURNS_PER_MIN,
    PasscodeCheck,
    TurnLimiter,
    exposure,
    is_loopback,
    may_benchmark,
    seen_through,
    turns_per_minute,
)
from streaming.core.config import BUILTINS, Deployment, load_deployments
from streaming.server.launcher import free_port

ROOT = Path(__file__).resolve().parents[2]
VAR = "ACCESS_TEST_KEY"
PASSCODE = "correct horse battery staple"


def listening_addresses(port: int) -> set[str]:
    """The local addresses of the TCP sockets listening on ``port`` (from /proc/net/tcp and tcp6)."""
    out = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(name).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, _, p = local.partition(":")
            if state == "0A" and int(p, 16) == port:
                out.add(".".join(str(int(addr[i : i + 2], 16)) for i in (6, 4, 2, 0)) if len(addr) == 8 else addr)
    return out


def test_the_app_binds_loopback_by_default(tmp_path: Path) -> None:
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    port = free_port()  # a real `streamlit run app.py` with no --server.address: where does it listen?
    with open(tmp_path / "streamlit.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.fileWatcherType", "none"],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, STREAMING_DEPLOYMENTS=""))  # fmt: skip
        try:
            deadline = time.monotonic() + 60
            while True:
                assert proc.poll() is None, (tmp_path / "streamlit.log").read_text()
                try:
                    if http_get(f"http://127.0.0.1:{port}/_stcore/health", timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                assert time.monotonic() < deadline
                time.sleep(0.1)
            assert listening_addresses(port) == {"127.0.0.1"}
        finally:
            proc.terminate()
            proc.wait(10)


@pytest.mark.parametrize("address,loopback", [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True), ("localhost", True),
                                              ("", False), ("0.0.0.0", False), ("::", False), ("192.0.2.2", False), ("myhost.example", False)])  # fmt: skip
def test_loopback_addresses(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def keyed_file(tmp_path: Path, base_url: str) -> Path:
    p = tmp_path / "deployments.toml"
    p.write_text(f'[[deployments]]\nname = "paid"\nprovider = "compatible"\nbase_url = "{base_url}/v1"\nmodel = "sim-fast"\napi_key_env = "{VAR}"\n')
    return p


def test_the_states(tmp_path: Path) -> None:
    deps = load_deployments(keyed_file(tmp_path, "http://127.0.0.1:9"))
    auth = {"redirect_uri": "http://x/oauth2callback", "cookie_secret": "s" * 32, "entra": {"client_id": "c", "client_secret": "s"}}
    assert exposure("127.0.0.1", 8501, deps, None, {}).state == "loopback"
    assert exposure("0.0.0.0", 8501, BUILTINS, None, {}).state == "open"  # nothing to spend
    assert exposure("0.0.0.0", 8501, deps, None, {}).state == "refused"
    assert exposure("0.0.0.0", 8501, deps, None, {"STREAMING_APP_PASSCODE": "x"}).state == "signin"
    assert exposure("", 8501, deps, auth, {}).state == "signin"
    assert exposure("0.0.0.0", 8501, deps, {"redirect_uri": "x"}, {}).state == "refused"  # an incomplete [auth] is no sign-in
    exp = exposure("0.0.0.0", 8501, deps, None, {})
    paid, sim = deps[-1], deps[0]
    assert exp.refusal(sim) is None
    assert "no sign-in is configured" in exp.refusal(paid) and "STREAMING_APP_PASSCODE" in exp.refusal(paid)  # type: ignore[operator]
    assert exp.listening() == "Listening on 0.0.0.0:8501: reachable from other machines."
    assert exposure("127.0.0.1", 8501, deps, None, {}).listening() == "Listening on 127.0.0.1:8501: this machine only."


def test_a_wrong_passcode_waits_longer_each_time_and_the_right_one_resets() -> None:
    slept: list[float] = []
    check = PasscodeCheck(PASSCODE, base_delay_s=0.5, max_delay_s=4.0, sleep=slept.append)
    assert [check.check(w) for w in ("a", "", "correct horse", PASSCODE.upper(), "x", "y")] == [False] * 6
    assert slept == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert check.check(PASSCODE) and check.failures() == 0 and slept[-1] == 4.0  # no wait for the right one
    assert PASSCODE not in repr(check)
    assert not PasscodeCheck("").check("")  # an empty passcode never signs anyone in


def test_turn_limiter_and_operators() -> None:
    now = [0.0]
    lim = TurnLimiter(3, clock=lambda: now[0])
    assert [lim.take() for _ in range(3)] == [None] * 3
    now[0] = 20.0
    assert lim.take() == pytest.approx(40.0)
    now[0] = 60.0
    assert lim.take() is None
    assert turns_per_minute({}) == DEFAULT_TURNS_PER_MIN == 30 and turns_per_minute({"STREAMING_DEMO_TURNS_PER_MIN": "5"}) == 5
    with pytest.raises(ValueError, match="STREAMING_DEMO_TURNS_PER_MIN='zero' is not a whole number"):
        turns_per_minute({"STREAMING_DEMO_TURNS_PER_MIN": "zero"})
    exp = exposure("0.0.0.0", 1, BUILTINS, None, {})
    env = {"STREAMING_BENCH_OPERATORS_ONLY": "1", "STREAMING_OPERATORS": "Op@example.com"}
    assert may_benchmark(exp, None, {}) is None and may_benchmark(exp, "op@example.com", env) is None
    assert "operators only" in may_benchmark(exp, "alice@example.com", env)  # type: ignore[operator]
    assert may_benchmark(exposure("127.0.0.1", 1, BUILTINS, None, {}), None, env) is None


# -- the app, in process (AppTest), bound to a non-loopback address ----------------------------------------------


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self) -> None:  # noqa: N802
        _Counting.hits.append(self.path)
        self.send_error(500)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def exposed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """The app as if run with --server.address 0.0.0.0; a keyed deployment pointed at a loopback server that counts requests."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    _Counting.hits = []
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(keyed_file(tmp_path, f"http://127.0.0.1:{srv.server_address[1]}")))
    monkeypatch.setenv(VAR, "sk-access-test")
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    monkeypatch.delenv("STREAMING_APP_PASSCODE", raising=False)
    old = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    yield tmp_path
    st_config.set_option("server.address", old)
    srv.shutdown()
    srv.server_close()


def app() -> AppTest:
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)


def texts(elements: Any) -> list[str]:
    return [e.value for e in elements]


def test_exposed_without_sign_in_refuses_keyed_deployments_and_serves_the_built_ins(server: Any, exposed: Path) -> None:
    at = app().run()
    assert any("Listening on 0.0.0.0:" in c.value and "reachable from other machines" in c.value for c in at.sidebar.caption)
    at.sidebar.selectbox(key="deployment").set_value("paid").run()
    assert any("`paid` is refused" in w for w in texts(at.warning))
    at.chat_input(key="prompt").set_value("hello").run()
    assert any("no sign-in is configured" in w and "STREAMING_APP_PASSCODE" in w for w in texts(at.warning))
    assert any("The request was not sent: `paid` is refused here" in e for e in texts(at.error))
    assert _Counting.hits == [] and not [m for m in at.session_state["history"] if m["role"] == "assistant"]
    at.sidebar.selectbox(key="deployment").set_value("sim-fast").run()
    at.sidebar.number_input(key="max_tokens").set_value(4).run()
    at.chat_input(key="prompt").set_value("hello").run()
    assert not at.exception and [m["status"] for m in at.session_state["history"] if m["role"] == "assistant"] == ["ok"]
    # the Deployments page's check and the Benchmark page refuse it too, before sending anything
    page = AppTest.from_file(str(ROOT / "pages" / "deployments.py"), default_timeout=30).run()
    page.selectbox(key="check_deployment").set_value("paid")
    page.button(key="check").click().run()
    assert any("`paid` is refused" in e for e in texts(page.error))
    bench = AppTest.from_file(str(ROOT / "pages" / "benchmark.py"), default_timeout=30).run()
    bench.multiselect(key="deployments").set_value(["paid"])
    bench.button[0].click().run()
    assert any("`paid` is refused" in e for e in texts(bench.error)) and "bench_job" not in bench.session_state
    assert _Counting.hits == []


def test_a_wrong_passcode_is_refused_with_a_delay_and_the_right_one_signs_in(server: Any, exposed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_APP_PASSCODE", PASSCODE)
    at = app().run()
    at.sidebar.selectbox(key="deployment").set_value("paid").run()
    assert any("sign in (in the sidebar)" in w for w in texts(at.warning))
    t0 = time.monotonic()
    at.sidebar.text_input[0].input("guess")
    at.sidebar.button[0].click().run()  # the form's submit button
    took = time.monotonic() - t0
    assert took >= 0.5 and any("Wrong passcode" in e for e in texts(at.sidebar.error))
    assert not any("Signed in" in c.value for c in at.sidebar.caption)
    at.sidebar.text_input[0].input(PASSCODE)
    at.sidebar.button[0].click().run()
    assert any(c.value == "Signed in with the passcode." for c in at.sidebar.caption)
    assert not any("`paid`" in w for w in texts(at.warning))
    at.chat_input(key="prompt").set_value("hello").run()  # now the keyed deployment is used: the counting server sees it
    assert len(_Counting.hits) >= 1 and _Counting.hits[0] == "/v1/chat/completions"
    everything = repr(at.session_state.to_dict()) + "".join(str(getattr(e, "proto", "")) for e in at.sidebar)
    assert PASSCODE not in everything


def test_turns_are_rate_limited_per_session_when_exposed(server: Any, exposed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_DEMO_TURNS_PER_MIN", "2")
    at = app().run()
    at.sidebar.number_input(key="max_tokens").set_value(2).run()
    for _ in range(3):
        at.chat_input(key="prompt").set_value("hi").run()
    assert [m["status"] for m in at.session_state["history"] if m["role"] == "assistant"] == ["ok", "ok"]
    assert any("used its 2 turns a minute" in e for e in texts(at.error))


def test_benchmarks_by_non_operators_can_be_switched_off(server: Any, exposed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMING_BENCH_OPERATORS_ONLY", "1")
    monkeypatch.setenv("STREAMING_OPERATORS", "op@example.com")
    bench = AppTest.from_file(str(ROOT / "pages" / "benchmark.py"), default_timeout=30).run()
    bench.multiselect(key="deployments").set_value(["sim-fast"])
    next(b for b in bench.button if b.label == "Start").click()
    bench.run()
    assert any("Benchmarks are for operators only" in e for e in texts(bench.error)) and "bench_job" not in bench.session_state
    monkeypatch.delenv("STREAMING_BENCH_OPERATORS_ONLY")
    bench.run()
    next(b for b in bench.button if b.label == "Start").click()
    bench.number_input(key="requests").set_value(2)
    bench.run()
    assert bench.session_state["bench_job"].wait(60)


def test_every_page_shows_the_sign_in_when_run_on_its_own(server: Any, exposed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deep link runs a page without app.py: each page draws the panel itself, and app.py's run draws it once."""
    monkeypatch.setenv("STREAMING_APP_PASSCODE", PASSCODE)
    for name in ("benchmark.py", "metrics.py", "deployments.py"):
        pg = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=30).run()
        assert not pg.exception, name
        assert any("Listening on 0.0.0.0:" in c.value for c in pg.sidebar.caption), name
        assert [b.key for b in pg.sidebar.button] == ["passcode_sign_in"], name
    at = app().run()
    assert not at.exception and [b.key for b in at.sidebar.button if b.key == "passcode_sign_in"] == ["passcode_sign_in"]


@pytest.mark.parametrize(
    ("headers", "remote", "seen"),
    [
        ({"Host": "127.0.0.1:8501"}, None, None),
        ({"Host": "localhost:8501", "User-Agent": "x"}, None, None),
        ({"Host": "[::1]:8501"}, None, None),
        ({"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.7"}, None, "came through a proxy (X-Forwarded-For)"),
        ({"Host": "localhost:8501", "forwarded": "for=1.2.3.4", "via": "1.1 nginx"}, None, "came through a proxy (Forwarded, Via)"),
        ({"Host": "lab-8501.tunnel.example"}, None, "was reached as lab-8501.tunnel.example"),
        ({"Host": "127.0.0.1:8501"}, "192.0.2.5", "came from 192.0.2.5"),
    ],
    ids=["loopback-ip", "localhost", "ipv6", "x-forwarded-for", "forwarded-via", "tunnel-host", "remote-peer"],
)
def test_a_session_through_a_proxy_tunnel_or_forward_is_seen(headers: dict[str, str], remote: str | None, seen: str | None) -> None:
    assert seen_through(headers, remote) == seen


def test_a_loopback_app_reached_through_a_proxy_is_exposed_and_says_so() -> None:
    deps = [*BUILTINS, Deployment(name="paid", provider="openai", api_key_env="OPENAI_API_KEY")]
    via = seen_through({"Host": "localhost:8501", "X-Forwarded-For": "203.0.113.7"})
    exp = exposure("127.0.0.1", 8501, deps, None, {}, via=via)
    assert exp.exposed and exp.state == "refused"
    assert exp.listening() == ("Listening on 127.0.0.1:8501, but this session came through a proxy (X-Forwarded-For): "
                               "treated as reachable from other machines.")  # fmt: skip
    assert "this session came through a proxy" in (exp.refusal(deps[-1]) or "")
    assert exposure("127.0.0.1", 8501, deps, None, {"STREAMING_APP_PASSCODE": "x"}, via=via).state == "signin"
    assert exposure("127.0.0.1", 8501, deps, None, {}, via=None).state == "loopback"


def test_wrong_passcodes_are_counted_per_session_and_per_address() -> None:
    slept: list[float] = []
    now = [0.0]
    check = PasscodeCheck(PASSCODE, base_delay_s=0.5, max_delay_s=30.0, sleep=slept.append, clock=lambda: now[0], address_grace=3)
    for _ in range(4):
        check.check("guess", session="attacker", address="10.0.0.9")
    assert slept == [0.5, 1.0, 2.0, 4.0]
    assert check.next_delay_s("user", "10.0.0.1") == 0.5  # another session, another address: not delayed at all
    assert check.next_delay_s("user", "10.0.0.9") == 1.0  # the same address: 4 failures, 3 forgiven
    check.check("typo", session="user", address="10.0.0.1")
    assert slept[-1] == 0.5
    for i in range(6):  # the attacker opens a new session for every guess: the address still slows it
        check.check("guess", session=f"fresh-{i}", address="10.0.0.9")
    assert slept[-6:] == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0]
    assert check.check(PASSCODE, session="user", address="10.0.0.1") and check.failures("user", "10.0.0.1") == 0
    now[0] = 901.0  # a quarter of an hour without a failure: forgotten
    assert check.failures("fresh-5", "10.0.0.9") == 0
