"""Nobody spends the keys through the built-in server: other web pages, rebound host names and other local users are
refused before anything reaches the upstream; the server's own page and clients still work."""

from __future__ import annotations

import http.server
import os
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from conftest import http_get, http_post

from streaming.server.guard import host_name, peer_uid
from streaming.server.launcher import ServerHandle, start_server

pytestmark = pytest.mark.xdist_group("relay-security")  # one worker runs the module, so its upstream and guarded servers start once

KEY_VAR = "RELAY_SECURITY_TEST_KEY"
CHUNKS = [
    b'{"id":"up-1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}',
    b'{"id":"up-1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{"content":"Hello from upstream"}}]}',
    b'{"id":"up-1","object":"chat.completion.chunk","model":"up","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
    b'{"id":"up-1","object":"chat.completion.chunk","model":"up","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":3,"total_tokens":6}}',
    b"[DONE]",
]


class Upstream(http.server.ThreadingHTTPServer):
    """A keyed OpenAI-compatible upstream on loopback that counts every connection made to it."""

    daemon_threads = True

    def __init__(self) -> None:
        self.connections = 0
        self.keys: list[str] = []
        super().__init__(("127.0.0.1", 0), _UpstreamHandler)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        self.connections += 1
        return True

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _UpstreamHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        self.server.keys.append(self.headers.get("authorization", ""))  # type: ignore[attr-defined]
        body = b"".join(b"data: " + c + b"\n\n" for c in CHUNKS)
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def upstream() -> Iterator[Upstream]:
    up = Upstream()
    t = threading.Thread(target=up.serve_forever, daemon=True)
    t.start()
    yield up
    up.shutdown()


@pytest.fixture(scope="module")
def guarded(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """The built-in server as the app starts it (launcher: random port, per-start token), with one keyed deployment."""
    d = tmp_path_factory.mktemp("relay-security")
    deps = d / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "keyed-up"\nprovider = "compatible"\nbase_url = "{upstream.url}"\nmodel = "up"\napi_key_env = "{KEY_VAR}"\n')
    os.environ[KEY_VAR] = "sk-relay-security-test"
    try:
        handle = start_server(deployments_file=str(deps), log_dir=str(d))
    finally:
        del os.environ[KEY_VAR]
    yield handle
    handle.stop()


BODY = b'{"deployment": "keyed-up", "messages": [{"role": "user", "content": "spend it"}], "max_tokens": 8}'


def post(h: ServerHandle, headers: dict[str, str], body: bytes = BODY, path: str = "/chat/stream") -> httpx2.Response:
    return http_post(h.url + path, content=body, headers=headers, timeout=30)


@pytest.mark.parametrize("ctype", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
                         ids=["text-plain", "form", "multipart", "none"])  # fmt: skip
def test_a_cors_simple_post_is_refused_before_anything_reaches_the_upstream(guarded: ServerHandle, upstream: Upstream, ctype: str | None) -> None:
    before = upstream.connections
    headers = {"Authorization": f"Bearer {guarded.token}"}  # even with the token: a simple POST is never read
    if ctype:
        headers["Content-Type"] = ctype
    r = post(guarded, headers)
    assert r.status_code == 415
    assert "Content-Type: application/json" in r.json()["error"]["message"]
    assert upstream.connections == before


def test_another_origin_is_refused_and_the_server_s_own_origin_is_not(guarded: ServerHandle, upstream: Upstream) -> None:
    before = upstream.connections
    for origin in ("http://evil.example", "null", "http://127.0.0.1:1"):
        r = post(guarded, {"Content-Type": "application/json", "Origin": origin, "Authorization": f"Bearer {guarded.token}"})
        assert r.status_code == 403 and "other web pages" in r.json()["error"]["message"], origin
    assert upstream.connections == before
    r = post(guarded, {"Content-Type": "application/json", "Origin": guarded.url, "Authorization": f"Bearer {guarded.token}"})
    assert r.status_code == 200 and b"Hello from upstream" in r.content


@pytest.mark.parametrize("path", ["/chat/stream", "/", "/v1/models", "/health"])
def test_a_rebound_host_name_is_refused_on_every_route(guarded: ServerHandle, upstream: Upstream, path: str) -> None:
    before = upstream.connections
    headers = {"Host": "attacker.example", "Content-Type": "application/json", "Authorization": f"Bearer {guarded.token}"}
    r = post(guarded, headers, path=path) if path == "/chat/stream" else http_get(guarded.url + path, headers=headers, timeout=10)
    assert r.status_code == 403
    assert "does not answer as 'attacker.example'" in r.json()["error"]["message"]
    assert upstream.connections == before
    assert http_get(guarded.url + "/health", headers={"Host": "localhost"}, timeout=10).status_code == 200


def test_without_the_token_a_keyed_deployment_is_refused_with_a_sentence(guarded: ServerHandle, upstream: Upstream) -> None:
    before = upstream.connections
    for auth in ({}, {"Authorization": "Bearer wrong"}):
        r = post(guarded, {"Content-Type": "application/json", **auth})
        assert r.status_code == 401
        msg = r.json()["error"]["message"]
        assert "'keyed-up' spends a key" in msg and "nothing was sent" in msg
    assert upstream.connections == before


def test_with_the_token_the_relay_works_and_built_ins_stay_open(guarded: ServerHandle, upstream: Upstream) -> None:
    before = upstream.connections
    r = post(guarded, {"Content-Type": "application/json", "Authorization": f"Bearer {guarded.token}"})
    assert r.status_code == 200 and b"Hello from upstream" in r.content and b"[DONE]" in r.content
    assert upstream.connections >= max(before, 1) and upstream.keys[-1] == "Bearer sk-relay-security-test"  # its connection may be reused
    sim = b'{"deployment": "sim-fast", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}'
    r = post(guarded, {"Content-Type": "application/json"}, body=sim)  # keyless built-in: open on loopback
    assert r.status_code == 200 and b"[DONE]" in r.content


def _page_token(html: str) -> str:
    m = re.search(r'<meta name="streaming-token" content="([^"]*)">', html)
    assert m, "the page has its token slot"
    return m.group(1)


def test_the_page_holds_the_token_for_its_user_and_not_for_another_local_user(guarded: ServerHandle) -> None:
    assert _page_token(http_get(guarded.url + "/", timeout=10).text) == guarded.token
    # another local user (uid 65534) on the same machine: the page comes without the token, and the relay refuses
    assert os.geteuid() == 0, "this test plays another local user with setuid: CI runs it as root"
    port = int(guarded.url.rsplit(":", 1)[1])
    page, status = _as_other_user(port)
    assert _page_token(page) == ""
    assert status == "401"


def _raw_http(port: int, request: bytes) -> str:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out.decode("utf-8", "replace")


def _as_other_user(port: int) -> tuple[str, str]:
    """GET / and POST /chat/stream from a forked child running as uid 65534 (stdlib sockets only, nothing to import)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to another user, ask, report through the pipe, and leave at once
        try:
            os.setgid(65534)
            os.setuid(65534)
            page = _raw_http(port, b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            post = _raw_http(port, b"POST /chat/stream HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                                   b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY)  # fmt: skip
            os.write(write, (post.split(" ", 2)[1] + "\n" + page).encode())
        finally:
            os._exit(0)
    os.close(write)
    data = b""
    while chunk := os.read(read, 65536):
        data += chunk
    os.close(read)
    os.waitpid(pid, 0)
    status, _, page = data.decode().partition("\n")
    return page, status


def test_peer_uid_reads_the_connection_owner(guarded: ServerHandle) -> None:
    import socket

    port = int(guarded.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as s:
        assert peer_uid(s.getsockname(), ("127.0.0.1", port)) == os.geteuid()
    assert peer_uid(("10.0.0.1", 5), ("127.0.0.1", port)) is None  # not loopback: not ours to tell
    assert [host_name(h) for h in ("LOCALHOST:8765", "[::1]:80", "::1", "a.example")] == ["localhost", "::1", "::1", "a.example"]


def test_serve_refuses_an_unknown_host_unless_allowed(tmp_path: Path) -> None:
    from streaming.server.app import create_app
    from streaming.server.guard import RequestGuard

    guard = RequestGuard(create_app(), allowed_hosts=["lab.internal"])
    scope = {"type": "http", "method": "GET", "scheme": "http", "headers": [(b"host", b"lab.internal:8765")]}
    assert guard.refusal(scope) is None
    scope["headers"] = [(b"host", b"other.internal:8765")]
    status, message, param = guard.refusal(scope) or (0, "", "")
    assert status == 403 and param == "host" and "--allow-host" in message


# -- in Chromium: a page on another origin tries ------------------------------------------------------------------

ATTACK = """<!doctype html><html><body><iframe name="sink"></iframe>
<form id="f" method="POST" enctype="text/plain" target="sink" action="RELAY/chat/stream">
<input name='{"deployment": "keyed-up", "messages": [{"role": "user", "content": "x"}], "max_tokens": 8, "pad": "' value='"}'></form>
<script>
window.results = {};
const body = JSON.stringify({deployment: "keyed-up", messages: [{role: "user", content: "spend it"}], max_tokens: 8});
async function attempt(name, init) {
  try { const r = await fetch("RELAY/chat/stream", init); window.results[name] = r.type + ":" + r.status + ":" + (await r.text()); }
  catch (e) { window.results[name] = "error:" + e.name; }
}
(async () => {
  await attempt("plain", {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body});
  await attempt("json", {method: "POST", headers: {"Content-Type": "application/json"}, body});
  await attempt("json-no-cors", {method: "POST", mode: "no-cors", body: new Blob([body], {type: "application/json"})});
  document.getElementById("f").submit();
  window.done = true;
})();
</script></body></html>"""


@pytest.fixture
def attacker_site(guarded: ServerHandle) -> Iterator[str]:
    page = ATTACK.replace("RELAY", guarded.url).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.send_header("content-length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://localhost:{srv.server_address[1]}/"
    srv.shutdown()


@pytest.mark.browser
def test_a_page_from_another_origin_cannot_spend_the_key(page: Any, guarded: ServerHandle, upstream: Upstream, attacker_site: str,
                                                         tmp_path: Path) -> None:  # fmt: skip
    before = upstream.connections
    page.goto(attacker_site)
    page.wait_for_function("() => window.done === true")
    page.wait_for_timeout(500)  # the form's navigation inside the iframe: let it land before counting
    results = page.evaluate("window.results")
    page.screenshot(path=str(tmp_path / "attacker.png"))
    assert results["json"] == "error:TypeError"  # CORS: the page reads nothing
    assert results["plain"] == "opaque:0:" and results["json-no-cors"] == "opaque:0:"  # sent blind, and refused
    assert upstream.connections == before, "nothing may reach the upstream"


@pytest.mark.browser
def test_the_server_s_own_page_still_streams_a_keyed_deployment(page: Any, guarded: ServerHandle, upstream: Upstream, tmp_path: Path) -> None:
    asked = len(upstream.keys)
    page.goto(guarded.url + "/")
    page.wait_for_function("() => document.querySelectorAll('#deployment option').length > 0")
    page.select_option("#deployment", "keyed-up")
    page.fill("#prompt", "Hello?")
    page.click("#send")
    page.wait_for_function("() => document.body.dataset.state === 'done'")
    page.screenshot(path=str(tmp_path / "own-page.png"))
    assert "Hello from upstream" in page.inner_text("body")
    assert len(upstream.keys) == asked + 1
