"""The three exposure states in a real browser, and OIDC sign-in through st.login against a provider run in the test session.

Screenshots of each state go under the test's tmp dir: loopback, exposed with no sign-in (keyed deployments refused,
built-ins answer), exposed with sign-in (passcode, and OIDC after a real code-for-token exchange).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import pipe, streamlit_app
from oidc_provider import Provider, running_provider
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser
VAR = "BROWSER_ACCESS_TEST_KEY"
KEY = "sk-browser-access-" + secrets.token_hex(8)
PASSCODE = "browser-passcode-" + secrets.token_hex(4)


def env_for(server: Any, tmp: Path, **extra: str) -> dict[str, str]:
    deps = tmp / "deployments.toml"
    deps.write_text(f'[[deployments]]\nname = "paid"\nprovider = "compatible"\nbase_url = "{server.url}/v1"\nmodel = "sim-fast"\n'
                    f'api_key_env = "{VAR}"\nprice_in_per_1m = 2.5\nprice_out_per_1m = 10\n')  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "STREAMING_APP_PASSCODE"}
    return dict(env, STREAMING_DEPLOYMENTS=str(deps), STREAMING_DB=str(tmp / "demo.db"), STREAMING_SERVER_URL=server.url, **{VAR: KEY}, **extra)


@pytest.fixture(autouse=True)
def patient_expect() -> Iterator[None]:
    """A shared, busy machine: a rerun can take seconds. Restored after, so other modules keep playwright's default."""
    expect.set_options(timeout=20_000)
    yield
    expect.set_options(timeout=5_000)


@pytest.fixture
def page(browser: Any) -> Iterator[Page]:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


def open_on(page: Page, url: str, deployment: str) -> None:
    page.goto(f"{url}/?deployment={deployment}")
    page.locator('[data-testid="stChatInputTextArea"]').wait_for()


def ask(page: Page, prompt: str) -> None:
    box = page.locator('[data-testid="stChatInputTextArea"]')
    expect(box).to_be_enabled()
    box.fill(prompt)
    box.press("Enter")


def answered(page: Page, deployment: str) -> None:
    expect(page.locator('[data-testid="stCaptionContainer"]', has_text="done · TTFT").filter(has_text=deployment)).to_be_visible()


def test_loopback(page: Page, server: Any, tmp_path: Path) -> None:
    with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log"), address="127.0.0.1") as url:
        open_on(page, url, "paid")
        expect(page.get_by_text(f"Listening on 127.0.0.1:{url.rsplit(':', 1)[1]}: this machine only.")).to_be_visible()
        ask(page, "hello")
        answered(page, "paid")  # the keyed deployment, no sign-in: nobody else can reach the app
        page.screenshot(path=str(tmp_path / "state-1-loopback.png"), full_page=True)


def test_exposed_without_sign_in(page: Page, server: Any, tmp_path: Path) -> None:
    with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log"), address="0.0.0.0") as url:
        open_on(page, url, "paid")
        expect(page.get_by_text("reachable from other machines")).to_be_visible()
        expect(page.get_by_text("is refused: this app listens on 0.0.0.0", exact=False).first).to_be_visible()
        ask(page, "hello")
        expect(page.locator('[data-testid="stAlertContentError"]', has_text="The request was not sent")).to_be_visible()
        page.screenshot(path=str(tmp_path / "state-2-exposed-refused.png"), full_page=True)
        open_on(page, url, "sim-fast")
        ask(page, "hello")
        answered(page, "sim-fast")  # the built-ins still work
        page.screenshot(path=str(tmp_path / "state-2-exposed-builtin-works.png"), full_page=True)


def test_exposed_with_a_passcode(page: Page, server: Any, tmp_path: Path) -> None:
    env = env_for(server, tmp_path, STREAMING_APP_PASSCODE=PASSCODE)
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log"), address="0.0.0.0") as url:
        open_on(page, url, "paid")
        expect(page.get_by_text("sign in (in the sidebar) to use it")).to_be_visible()
        page.screenshot(path=str(tmp_path / "state-3-exposed-signin.png"), full_page=True)
        field = page.get_by_label("Passcode")
        field.fill("wrong")
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_text("Wrong passcode.")).to_be_visible()
        page.screenshot(path=str(tmp_path / "state-3-wrong-passcode.png"), full_page=True)
        field.fill(PASSCODE)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_text("Signed in with the passcode.")).to_be_visible()
        ask(page, "hello")
        answered(page, "paid")
        page.screenshot(path=str(tmp_path / "state-3-passcode-signed-in.png"), full_page=True)
        assert PASSCODE not in page.content()
    assert PASSCODE not in (tmp_path / "streamlit.log").read_text() and KEY not in (tmp_path / "streamlit.log").read_text()


def auth_secrets(tmp: Path, idp: Provider) -> Path:
    p = tmp / "secrets.toml"
    p.write_text(f'[auth]\nredirect_uri = "http://127.0.0.1:{{port}}/oauth2callback"\ncookie_secret = "{secrets.token_hex(32)}"\n\n'
                 f'[auth.lab]\nclient_id = "{idp.client_id}"\nclient_secret = "{idp.client_secret}"\n'
                 f'server_metadata_url = "{idp.url}/.well-known/openid-configuration"\n')  # fmt: skip
    return p


def test_exposed_with_oidc_sign_in(page: Page, server: Any, tmp_path: Path) -> None:
    with running_provider() as idp:
        extra = ("--secrets.files", str(auth_secrets(tmp_path, idp)))
        with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log"), address="0.0.0.0", extra_args=extra) as url:
            open_on(page, url, "paid")
            expect(page.get_by_text("sign in (in the sidebar) to use it")).to_be_visible()
            page.get_by_role("button", name="Sign in with your organisation").click()
            expect(page.get_by_text("Signed in as alice@example.com.")).to_be_visible()  # back from the provider
            assert idp.exchanges == [{"client_id": "lab-client", "pkce": True}] and idp.refused == []
            open_on(page, url, "paid")
            expect(page.get_by_text("Signed in as alice@example.com.")).to_be_visible()
            expect(page.get_by_text("sign in (in the sidebar) to use it")).to_have_count(0)
            ask(page, "hello")
            answered(page, "paid")
            page.screenshot(path=str(tmp_path / "state-3-oidc-signed-in.png"), full_page=True)
            page.get_by_role("button", name="Sign out").click()
            expect(page.get_by_role("button", name="Sign in with your organisation")).to_be_visible()
        log = (tmp_path / "streamlit.log").read_text()
        assert idp.client_secret not in log and KEY not in log


def test_the_benchmark_page_asks_before_spending(page: Page, server: Any, tmp_path: Path) -> None:
    with streamlit_app("app.py", env_for(server, tmp_path), str(tmp_path / "streamlit.log")) as url:
        page.goto(f"{url}/benchmark")
        page.get_by_label("Total requests (0: all prompts × repeats)").wait_for()
        chooser = page.locator('[data-testid="stMultiSelect"]').first
        chooser.click()
        page.get_by_role("option", name="paid").click()
        page.keyboard.press("Escape")
        requests = page.get_by_label("Total requests (0: all prompts × repeats)")
        requests.fill("5000")
        requests.press("Tab")
        page.get_by_role("button", name="Start").click()
        # sim-fast (the default) and paid share the 5,000 requests; only paid's 2,500 + 1 warmup are estimated
        expect(page.get_by_text("Cost guard: 2,501 requests to paid: about")).to_be_visible()
        expect(page.get_by_role("button", name="Confirm: send 2,501 requests")).to_be_visible()
        page.screenshot(path=str(tmp_path / "cost-guard-benchmark-page.png"), full_page=True)
        expect(page.get_by_text("Listening on 127.0.0.1:")).to_be_visible()  # a deep link still gets the sidebar panel
        page.get_by_role("button", name="Cancel").click()
        expect(page.get_by_text("Cost guard:")).to_have_count(0)


class ForwardingProxy:
    """A reverse proxy on loopback in front of the app: every request head (the WebSocket handshake included) gains
    ``X-Forwarded-For``, as nginx or a tunnel adds it; bodies and the upgraded socket pass as they are. (Playwright's
    ``extra_http_headers`` do not reach Chromium's WebSocket handshake, where Streamlit reads the headers.)"""

    def __init__(self, upstream_url: str, forwarded_for: str) -> None:
        host, port = upstream_url.split("//", 1)[1].split(":")
        self.upstream, self.header = (host, int(port)), f"X-Forwarded-For: {forwarded_for}\r\n".encode()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn, socket.create_connection(self.upstream) as up:
            threading.Thread(target=pipe, args=(up, conn), daemon=True).start()
            buf = b""
            while True:
                while b"\r\n\r\n" not in buf:
                    if not (data := conn.recv(65536)):
                        return
                    buf += data
                head, buf = buf.split(b"\r\n\r\n", 1)
                line, _, fields = head.partition(b"\r\n")
                up.sendall(line + b"\r\n" + self.header + fields + b"\r\n\r\n")
                if b"upgrade: websocket" in head.lower():
                    up.sendall(buf)
                    pipe(conn, up)
                    return
                length = next((int(f.split(b":", 1)[1]) for f in fields.split(b"\r\n") if f.lower().startswith(b"content-length:")), 0)
                while len(buf) < length:
                    if not (data := conn.recv(65536)):
                        return
                    buf += data
                up.sendall(buf[:length])
                buf = buf[length:]

    def close(self) -> None:
        self.listener.close()


def test_a_session_through_a_proxy_gets_the_sign_in_not_the_keys(browser: Any, server: Any, tmp_path: Path) -> None:
    """A loopback app reached through a reverse proxy or tunnel (forwarding headers): keyed deployments need the sign-in."""
    env = env_for(server, tmp_path, STREAMING_APP_PASSCODE=PASSCODE)
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log"), address="127.0.0.1") as url:
        proxy = ForwardingProxy(url, "203.0.113.7")
        proxied = browser.new_context(viewport={"width": 1400, "height": 900})
        page = proxied.new_page()
        open_on(page, proxy.url, "paid")
        expect(page.get_by_text("but this session came through a proxy (X-Forwarded-For)", exact=False)).to_be_visible()
        expect(page.get_by_text("sign in (in the sidebar) to use it")).to_be_visible()
        expect(page.get_by_label("Passcode")).to_be_visible()
        ask(page, "hello")
        expect(page.locator('[data-testid="stAlertContentError"]', has_text="The request was not sent")).to_be_visible()
        page.screenshot(path=str(tmp_path / "proxied-signin.png"), full_page=True)
        proxied.close()
        proxy.close()
        direct = browser.new_context(viewport={"width": 1400, "height": 900})  # the same app, straight from this machine
        page = direct.new_page()
        open_on(page, url, "paid")
        expect(page.get_by_text("this machine only.", exact=False)).to_be_visible()
        ask(page, "hello")
        answered(page, "paid")
        direct.close()


def test_wrong_passcodes_in_one_session_do_not_delay_another(browser: Any, server: Any, tmp_path: Path) -> None:
    env = env_for(server, tmp_path, STREAMING_APP_PASSCODE=PASSCODE)
    with streamlit_app("app.py", env, str(tmp_path / "streamlit.log"), address="0.0.0.0") as url:
        pages = [browser.new_context(viewport={"width": 1400, "height": 900}).new_page() for _ in range(2)]
        for p in pages:
            open_on(p, url, "paid")

        def wrong(p: Page) -> None:
            p.get_by_label("Passcode").fill("wrong")
            p.get_by_role("button", name="Sign in", exact=True).click()

        attacker, user = pages
        for waits in (1, 2, 4):
            wrong(attacker)
            expect(attacker.get_by_text(f"The next wrong attempt waits {waits} s.")).to_be_visible()
        wrong(user)  # the first wrong attempt of another session: its own count, not the attacker's
        expect(user.get_by_text("The next wrong attempt waits 1 s.")).to_be_visible()
        user.get_by_label("Passcode").fill(PASSCODE)
        user.get_by_role("button", name="Sign in", exact=True).click()
        expect(user.get_by_text("Signed in with the passcode.")).to_be_visible()
        user.screenshot(path=str(tmp_path / "other-session-signed-in.png"), full_page=True)
        for p in pages:
            p.context.close()
