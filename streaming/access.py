"""Who may spend the keys: exposure (where the app listens), the passcode check, and per-session turn limits.

No Streamlit here: the app's pages call these through one small helper (``ui/gate.py``).

Three states:
- ``loopback``: the app listens on 127.0.0.1 / ::1 / localhost only and this session came straight from this machine
  (no forwarding headers, a loopback ``Host``); everything works, no sign-in.
- ``signin``: it listens on another address, a deployment has a key, and a sign-in is configured
  (OIDC in secrets.toml ``[auth]``, or ``STREAMING_APP_PASSCODE``): keyed deployments need a signed-in user.
- ``refused``: exposed with a keyed deployment and no sign-in configured: keyed deployments are refused,
  the built-ins (``local``, ``sim-*``) keep working.
(Exposed with no keyed deployment at all is ``open``: there is nothing to spend.)

A session that reached a loopback app through a reverse proxy, a tunnel or a port forward counts as exposed: the app
sees that in the request (``via``), not in its bind address.
"""

from __future__ import annotations

import collections
import hmac
import ipaddress
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from streaming.core.config import Deployment

PASSCODE_ENV = "STREAMING_APP_PASSCODE"
TURNS_ENV = "STREAMING_DEMO_TURNS_PER_MIN"
BENCH_ENV = "STREAMING_BENCH_OPERATORS_ONLY"
OPERATORS_ENV = "STREAMING_OPERATORS"
DEFAULT_TURNS_PER_MIN = 30
LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")
# Headers a reverse proxy, tunnel or forwarder adds; a browser on this machine sends none of them.
FORWARDING_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Forwarded-Server",
                      "X-Real-IP", "X-Original-Host", "X-Original-URL", "Via", "CF-Connecting-IP", "True-Client-IP", "Fly-Client-IP")  # fmt: skip


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost; an empty address means all interfaces (not loopback)."""
    a = (address or "").strip().strip("[]")
    if not a:
        return False
    if a.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(a).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything, so count it as exposed


def seen_through(headers: Mapping[str, str] | None, remote_ip: str | None = None) -> str | None:
    """How this session shows it did not come straight from this machine ("through a proxy (X-Forwarded-For)"); None when it did."""
    got = {k.lower(): v for k, v in (headers or {}).items()}
    named = [h for h in FORWARDING_HEADERS if got.get(h.lower())]
    if named:
        return f"came through a proxy ({', '.join(named)})"
    host = got.get("host", "").strip()
    if host:
        name = host[1 : host.find("]")] if host.startswith("[") else host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        if not is_loopback(name) and not name.lower().endswith(".localhost"):
            return f"was reached as {name}"
    if remote_ip and not is_loopback(remote_ip):
        return f"came from {remote_ip}"
    return None


def keyed(dep: Deployment) -> bool:
    """A deployment that spends someone's key or token (every non-built-in one with a key variable or Entra ID)."""
    return dep.spends_key


@dataclass(frozen=True)
class Exposure:
    """Where the app listens and which sign-in is configured (never the passcode itself)."""

    address: str
    port: int | None
    passcode: bool
    oidc: bool
    any_keyed: bool
    via: str | None = None  # how this session shows a proxy, tunnel or forward in front of the app (``seen_through``)

    @property
    def exposed(self) -> bool:
        return not is_loopback(self.address) or self.via is not None

    @property
    def state(self) -> str:
        if not self.exposed:
            return "loopback"
        if not self.any_keyed:
            return "open"
        return "signin" if (self.passcode or self.oidc) else "refused"

    def listening(self) -> str:
        """Where the app listens, in one line."""
        host = self.address or "all interfaces (0.0.0.0)"
        where = f"{host}:{self.port}" if self.port else host
        if not self.exposed:
            return f"Listening on {where}: this machine only."
        if self.via and is_loopback(self.address):
            return f"Listening on {where}, but this session {self.via}: treated as reachable from other machines."
        return f"Listening on {where}: reachable from other machines."

    def refusal(self, dep: Deployment) -> str | None:
        """Why ``dep`` may not be used by a user who has not signed in; None when it may."""
        if not self.exposed or not keyed(dep):
            return None
        if self.state == "refused":
            where = f"this session {self.via}" if self.via and is_loopback(self.address) else f"this app listens on {self.address or 'all interfaces'}"
            return (f"`{dep.name}` is refused: {where}, and no sign-in is configured, so anyone "
                    f"who can reach it could spend its key; set {PASSCODE_ENV}, or add an [auth] section to .streamlit/secrets.toml "
                    f"(see the README, \"Exposing the app\"), or bind 127.0.0.1. The built-in deployments still work.")  # fmt: skip
        return f"`{dep.name}` uses a key: sign in (in the sidebar) to use it. The built-in deployments work without signing in."


def exposure(address: str | None, port: int | None, deployments: Iterable[Deployment], secrets_auth: Mapping[str, Any] | None,
             env: Mapping[str, str] | None = None, via: str | None = None) -> Exposure:  # fmt: skip
    """The app's exposure from its bind address, how this session reached it (``via``), its deployments, secrets.toml's
    ``[auth]`` and the environment."""
    env = os.environ if env is None else env
    return Exposure(address=address or "", port=port, passcode=bool(env.get(PASSCODE_ENV)), oidc=oidc_configured(secrets_auth),
                    any_keyed=any(keyed(d) for d in deployments), via=via)  # fmt: skip


def oidc_configured(auth: Mapping[str, Any] | None) -> bool:
    """secrets.toml ``[auth]`` has what ``st.login()`` needs: a redirect_uri, a cookie_secret and a provider's client_id."""
    if not auth:
        return False
    try:
        has_provider = bool(auth.get("client_id")) or any(isinstance(v, Mapping) and v.get("client_id") for v in auth.values())
        return bool(auth.get("redirect_uri")) and bool(auth.get("cookie_secret")) and has_provider
    except Exception:  # a malformed section reads as not configured
        return False


class PasscodeCheck:
    """Compares a passcode in constant time; each wrong attempt makes its client wait longer (doubling, capped) before it answers.

    A client is its browser session and its remote address, counted apart: wrong attempts in one session never delay
    another session. One address failing across many sessions (an attacker opening new ones) is slowed too, once it
    has more than ``address_grace`` failures, so that users behind one proxy are not delayed by a single typo.
    Counts are forgotten after ``forget_after_s`` without a failure, and a right passcode resets its client's.
    """

    def __init__(self, passcode: str, base_delay_s: float = 0.5, max_delay_s: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic, address_grace: int = 10, forget_after_s: float = 900.0) -> None:  # fmt: skip
        self._digest = passcode.encode("utf-8")
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        self.address_grace, self.forget_after_s = address_grace, forget_after_s
        self._sleep, self._clock = sleep, clock
        self._lock = threading.Lock()
        self._failures: dict[str, tuple[int, float]] = {}  # "s:<session>" / "a:<address>" → (count, last failure)

    def __repr__(self) -> str:
        return f"PasscodeCheck(<hidden>, clients={len(self._failures)})"

    def failures(self, session: str = "", address: str | None = None) -> int:
        """The wrong attempts that count against this client now."""
        with self._lock:
            return self._count(session, address)

    def _count(self, session: str, address: str | None) -> int:
        now = self._clock()
        for k in [k for k, (_, t) in self._failures.items() if now - t >= self.forget_after_s]:
            del self._failures[k]
        own = self._failures.get("s:" + session, (0, 0.0))[0]
        shared = self._failures.get("a:" + address, (0, 0.0))[0] - self.address_grace if address else 0
        return max(own, shared, 0)

    def next_delay_s(self, session: str = "", address: str | None = None) -> float:
        """The wait this client's next wrong attempt will get."""
        return min(self.max_delay_s, self.base_delay_s * 2 ** self.failures(session, address))

    def check(self, attempt: str, session: str = "", address: str | None = None) -> bool:
        ok = bool(self._digest) and hmac.compare_digest(attempt.encode("utf-8"), self._digest)
        keys = ["s:" + session] + (["a:" + address] if address else [])
        with self._lock:
            if ok:
                for k in keys:
                    self._failures.pop(k, None)
                return True
            delay = min(self.max_delay_s, self.base_delay_s * 2 ** self._count(session, address))
            now = self._clock()
            for k in keys:
                self._failures[k] = (self._failures.get(k, (0, 0.0))[0] + 1, now)
        self._sleep(delay)  # only this client's script waits: other sessions run on their own threads
        return False


class TurnLimiter:
    """At most ``per_minute`` turns in any 60 s window, for one session."""

    def __init__(self, per_minute: int = DEFAULT_TURNS_PER_MIN, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._times: collections.deque[float] = collections.deque()

    def take(self) -> float | None:
        """Count a turn and return None, or return the seconds until the next turn is allowed (nothing counted)."""
        now = self.clock()
        while self._times and now - self._times[0] >= 60.0:
            self._times.popleft()
        if len(self._times) >= self.per_minute:
            return 60.0 - (now - self._times[0])
        self._times.append(now)
        return None


def turns_per_minute(env: Mapping[str, str] | None = None) -> int:
    """``STREAMING_DEMO_TURNS_PER_MIN`` (default 30); a bad value is a one-sentence ValueError naming it."""
    env = os.environ if env is None else env
    raw = env.get(TURNS_ENV, "").strip()
    if not raw:
        return DEFAULT_TURNS_PER_MIN
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{TURNS_ENV}={raw!r} is not a whole number of turns per minute of 1 or more (e.g. {TURNS_ENV}=30)")
    return int(raw)


def may_benchmark(exp: Exposure, user_email: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """None when this user may start benchmarks; else the sentence why not.

    Off only when exposed and ``STREAMING_BENCH_OPERATORS_ONLY=1``: then only the OIDC users listed in
    ``STREAMING_OPERATORS`` (comma-separated e-mails) may start them.
    """
    env = os.environ if env is None else env
    if not exp.exposed or env.get(BENCH_ENV, "").strip() not in ("1", "true", "yes"):
        return None
    operators = {e.strip().lower() for e in env.get(OPERATORS_ENV, "").split(",") if e.strip()}
    if user_email and user_email.lower() in operators:
        return None
    return (f"Benchmarks are for operators only on this exposed app ({BENCH_ENV} is set); sign in with an account listed in "
            f"{OPERATORS_ENV} to start one. Results can still be read on the Metrics page.")  # fmt: skip
