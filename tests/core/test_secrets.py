"""A recognisable fake Azure key goes through every surface; it must be found nowhere.

The key is set for an azure deployment pointed at the built-in server's Azure route. Then:
``chat`` (ok and failing), ``bench``, ``report`` (table, csv, json, html), ``runs``, the SSE
relay on a second server that knows the deployment, and the app's pages (AppTest). Every
log, the database (with its WAL), every export, the HTML, every captured output and every
element the pages rendered are searched for the key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import http_get, http_stream
from streamlit.testing.v1 import AppTest

from streaming.core.auth import Credentials
from streaming.core.config import find_deployment, load_deployments
from streaming.server.launcher import start_server

ROOT = Path(__file__).resolve().parents[2]
KEY = "sk-LABSECRET-" + uuid.uuid4().hex  # recognisable, and unique to this run
VAR = "LAB_SECRET_TEST_AZURE_KEY"
FAST = orjson.dumps({"ttft_ms": 5, "tokens_per_s": 1000, "output_tokens": 8}).decode()


def contains_key(data: bytes) -> bool:
    """The key in any form a leak could take: raw, JSON-escaped, URL-encoded, UTF-16 (SQLite may store text so)."""
    forms = {KEY.encode(), KEY.encode("utf-16-le"), orjson.dumps(KEY)[1:-1], KEY[4:].encode()}
    return any(f in data for f in forms)


def files_with_key(*roots: Path) -> list[str]:
    hits = []
    for root in roots:
        for p in [root] if root.is_file() else root.rglob("*"):
            if p.is_file() and contains_key(p.read_bytes()):
                hits.append(str(p))
    return hits


def element_texts(at: AppTest) -> str:
    out: list[str] = []

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None:
            out.append(str(proto))
        children = getattr(node, "children", None)
        if isinstance(children, dict):
            for c in children.values():
                walk(c)

    walk(at._tree)
    state = at.session_state.to_dict()
    out.append(repr(state))
    return "\n".join(out)


@pytest.fixture
def setup(server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv(VAR, KEY)
    deps = tmp_path / "deployments.toml"
    deps.write_text(
        f'[[deployments]]\nname = "az-secret"\nprovider = "azure"\nendpoint = "{server.url}"\ndeployment = "sim-fast"\n'
        f'api_version = "2024-10-21"\napi_key_env = "{VAR}"\n\n'
        f'[[deployments]]\nname = "az-broken"\nprovider = "azure"\nendpoint = "{server.url}/nope"\ndeployment = "no-such-deployment"\n'
        f'api_key_env = "{VAR}"\n'
    )
    return {"deps": deps, "db": tmp_path / "results.db", "env": dict(os.environ, STREAMING_SERVER_URL=server.url)}


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "streaming", *args], cwd=ROOT, env=env, capture_output=True, timeout=120)


@pytest.mark.slow
def test_the_key_is_found_nowhere(server: Any, setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deps, db, env = setup["deps"], setup["db"], setup["env"]
    outputs: list[bytes] = []

    # in process: the objects that hold or resolve the key never show it
    dep = find_deployment(load_deployments(deps), "az-secret")
    creds = Credentials(secrets={VAR: KEY})
    assert creds.headers(dep) == {"api-key": KEY}  # the key is really used...
    outputs += [repr(creds).encode(), repr(dep).encode(), orjson.dumps(dep.public_dict())]  # ...and never shown

    # CLI: chat (ok, JSON, failing), bench (with failures), report in every format, runs; the independent ones at once
    with ThreadPoolExecutor(5) as pool:
        ok, js, bad, bench = pool.map(lambda args: cli(env, "--deployments", str(deps), *args), [
            ("chat", "-d", "az-secret", "-n", "4", "hello"), ("chat", "-d", "az-secret", "-n", "4", "--json", "hello"), ("chat", "-d", "az-broken", "hello"),
            ("bench", "-d", "az-secret", "-d", "az-broken", "-n", "8", "--warmup", "0", "--db", str(db), "--header", f"x-sim-profile: {FAST}",
             "--notes", "secrets test")])  # fmt: skip
        assert ok.returncode == 0, ok.stderr
        assert orjson.loads(js.stdout)["status"] == "ok"
        assert bad.returncode == 1 and b"HTTP 404" in bad.stdout
        assert bench.returncode == 0, bench.stderr
        outputs += [p.stdout + p.stderr for p in (ok, js, bad, bench)]
        reads = [*(("report", "--db", str(db), "--format", fmt, "--out", str(tmp_path / f"report.{fmt}")) for fmt in ("csv", "json", "html")),
                 ("report", "--db", str(db)), ("runs", "--db", str(db), "--json")]  # fmt: skip
        for args, r in zip(reads, pool.map(lambda args: cli(env, *args), reads)):
            assert r.returncode == 0, (args, r.stderr)
            outputs.append(r.stdout + r.stderr)
    for fmt in ("csv", "json", "html"):
        assert (tmp_path / f"report.{fmt}").stat().st_size > 100
    report = orjson.loads((tmp_path / "report.json").read_bytes())
    assert {r["deployment"] for r in report} == {"az-secret", "az-broken"} and {r["status"] for r in report} == {"ok", "error"}

    # the SSE relay, on a second server that knows the azure deployment (and has the key in its environment)
    relay_logs = tmp_path / "relay-logs"
    relay_logs.mkdir()
    relay = start_server(deployments_file=str(deps), log_dir=str(relay_logs))
    try:
        for name in ("az-secret", "az-broken"):
            body = {"deployment": name, "max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]}
            with http_stream("POST", f"{relay.url}/chat/stream", json=body, timeout=30, headers={"Authorization": f"Bearer {relay.token}"}) as r:
                text = r.read()
            assert r.status_code == 200 and (b"[DONE]" in text if name == "az-secret" else b"event: error" in text)
            outputs.append(text)
        for path in ("/chat/deployments", "/v1/models", "/openapi.json"):
            outputs.append(http_get(relay.url + path, timeout=10).content)
        outputs.append(http_get(relay.url + "/", timeout=10).content.replace(relay.token.encode(), b""))  # the page holds the token, not the key
    finally:
        relay.stop()
    # the relay's start token went over its stdin only: not in its log, not in its command line
    assert relay.token and relay.token not in "".join(p.read_text(errors="replace") for p in relay_logs.iterdir())
    assert relay.token not in " ".join(relay.process.args)

    # the app: demo turns (ok and failing) saved to the database and a JSON-lines log, and the other pages
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    monkeypatch.setenv("STREAMING_DEMO_LOG", str(tmp_path / "demo.jsonl"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
    at.sidebar.number_input(key="max_tokens").set_value(4).run()
    for name in ("az-secret", "az-broken"):
        at.sidebar.selectbox(key="deployment").set_value(name).run()
        at.chat_input(key="prompt").set_value("hello").run()
        assert not at.exception
    statuses = [m.get("status") for m in at.session_state["history"] if m["role"] == "assistant"]
    assert statuses == ["ok", "error"]
    assert any("HTTP 404" in e.value for e in at.error)
    outputs.append(element_texts(at).encode())
    page = AppTest.from_file(str(ROOT / "pages" / "deployments.py"), default_timeout=30).run()
    page.selectbox(key="check_deployment").set_value("az-secret")
    page.button(key="check").click().run()
    assert not page.exception and [s.value for s in page.success] == ["It answered."]
    assert f"{VAR}: set" in set(page.dataframe[0].value["key"])
    outputs.append(element_texts(page).encode())
    monkeypatch.setenv("STREAMING_DB", str(db))
    for p in ("metrics.py", "benchmark.py"):
        pg = AppTest.from_file(str(ROOT / "pages" / p), default_timeout=30).run()
        assert not pg.exception
        outputs.append(element_texts(pg).encode())

    # the search: every file written (DB + WAL, exports, HTML, logs of both servers), every output
    searched = [tmp_path, Path(server.log_path)] if server.log_path else [tmp_path]
    assert (tmp_path / "demo.db").exists() and (tmp_path / "demo.jsonl").stat().st_size > 0 and (tmp_path / "report.html").exists()
    assert list(relay_logs.iterdir())
    (tmp_path / "control.txt").write_text(f"planted {KEY}")  # the search finds a key when there is one
    assert files_with_key(tmp_path) == [str(tmp_path / "control.txt")]
    (tmp_path / "control.txt").unlink()
    assert files_with_key(*searched) == []
    assert [i for i, o in enumerate(outputs) if contains_key(o)] == []


def test_the_passcode_and_the_key_are_found_nowhere_when_exposed(server: Any, setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exposed with a passcode: wrong and right sign-ins, a keyed turn, the cost guard's refusal; neither secret anywhere."""
    from streamlit import config as st_config

    from streaming.access import PasscodeCheck

    passcode = "pc-LABSECRET-" + uuid.uuid4().hex
    deps, env = setup["deps"], setup["env"]
    monkeypatch.setenv("STREAMING_APP_PASSCODE", passcode)
    monkeypatch.setenv("STREAMING_DEPLOYMENTS", str(deps))
    monkeypatch.setenv("STREAMING_DB", str(tmp_path / "demo.db"))
    monkeypatch.setenv("STREAMING_DEMO_LOG", str(tmp_path / "demo.jsonl"))
    outputs: list[bytes] = [repr(PasscodeCheck(passcode)).encode()]
    old = st_config.get_option("server.address")
    st_config.set_option("server.address", "0.0.0.0")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
        at.sidebar.selectbox(key="deployment").set_value("az-secret").run()
        for attempt in ("nope", passcode):
            at.sidebar.text_input(key="_access_passcode").input(attempt)
            at.sidebar.button(key="passcode_sign_in").click().run()
            outputs.append(element_texts(at).encode())
        assert any(c.value == "Signed in with the passcode." for c in at.sidebar.caption)
        at.sidebar.number_input(key="max_tokens").set_value(4).run()
        at.chat_input(key="prompt").set_value("hello").run()
        assert [m.get("status") for m in at.session_state["history"] if m["role"] == "assistant"] == ["ok"]
        outputs.append(element_texts(at).encode())
        for p in ("deployments.py", "benchmark.py"):
            pg = AppTest.from_file(str(ROOT / "pages" / p), default_timeout=30).run()
            assert not pg.exception
            outputs.append(element_texts(pg).encode())
    finally:
        st_config.set_option("server.address", old)
    refused = cli(dict(env, STREAMING_APP_PASSCODE=passcode), "--deployments", str(deps), "bench", "-d", "az-secret", "-n", "5000", "--db", str(tmp_path / "r.db"))
    assert refused.returncode == 2 and b"Not started:" in refused.stderr
    outputs.append(refused.stdout + refused.stderr)
    leaked = [i for i, o in enumerate(outputs) if contains_key(o) or passcode.encode() in o]
    assert leaked == []
    assert files_with_key(tmp_path) == [] and not any(passcode.encode() in p.read_bytes() for p in tmp_path.rglob("*") if p.is_file())
    assert (tmp_path / "demo.db").exists()
