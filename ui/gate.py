"""The pages' one helper for who may spend the keys: the sign-in panel, refusals, turn limits and the cost confirmation.

The decisions are made in ``streaming.access`` and ``streaming.bench.guard`` (no Streamlit there); this file only
reads Streamlit's settings and session, and renders. See README, "Exposing the app".
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from streaming.access import (
    PASSCODE_ENV,
    Exposure,
    PasscodeCheck,
    TurnLimiter,
    exposure,
    keyed,
    seen_through,
    may_benchmark,
    turns_per_minute,
)
from streaming.core.auth import SafeSecrets
from streaming.core.config import BUILTINS, Deployment
from streaming.store.recordings import load_labelled
from streaming.core.cost import DEFAULT_BUDGET_TOKENS, CostEstimate
from streaming.errors import ConfigError

SIGNED_IN = "_access_signed_in"  # "passcode" once the passcode was given in this session
LIMITER = "_access_turns"
WRONG = "_access_wrong_passcode"  # the sentence after a wrong attempt (never the attempt)
SHOWN = "_access_panel_shown"  # set by app.py's panel, taken by the page that runs after it
PASSCODE_INPUT = "_access_passcode"  # emptied by the Sign in callback as soon as it is checked
BUDGET_ENV = "STREAMING_BUDGET_TOKENS"


def _deployments() -> list[Deployment]:
    try:
        return load_labelled(os.environ.get("STREAMING_DEPLOYMENTS") or None)
    except ConfigError:
        return list(BUILTINS)


def _auth_section() -> Any:
    try:
        return SafeSecrets(st.secrets).get("auth")
    except Exception:
        return None


def _via() -> str | None:
    """How this session's request shows a proxy, tunnel or port forward in front of the app (forwarding headers, Host, peer)."""
    try:
        return seen_through(dict(st.context.headers), _remote_ip())
    except Exception:  # no request context (a bare script run): nothing seen
        return None


def _remote_ip() -> str | None:
    """The session's TCP peer (None on loopback, and where no browser is attached, as under AppTest)."""
    ip = st.context.ip_address
    return ip if isinstance(ip, str) else None


def _client() -> tuple[str, str | None]:
    """This session's id and remote address: the passcode's wrong attempts are counted per client."""
    ctx = get_script_run_ctx()
    try:
        address = _remote_ip() or "loopback"
    except Exception:
        address = None
    return (ctx.session_id if ctx is not None else ""), address


def state(deployments: Iterable[Deployment] | None = None) -> Exposure:
    """This app's exposure: its bind address (``server.address``), how this session reached it, its deployments, and the
    sign-in configured."""
    port = st.get_option("server.port")
    return exposure(st.get_option("server.address"), int(port) if port else None, _deployments() if deployments is None else deployments,
                    _auth_section(), via=_via())  # fmt: skip


def _oidc_user() -> Any:
    try:
        return st.user if st.user.is_logged_in else None
    except Exception:  # no [auth] section, or Authlib missing: nobody is signed in by OIDC
        return None


def signed_in() -> bool:
    return st.session_state.get(SIGNED_IN) == "passcode" or _oidc_user() is not None


def user_email() -> str | None:
    u = _oidc_user()
    return str(u.get("email")) if u is not None and u.get("email") else None


def refusal(dep: Deployment) -> str | None:
    """Why this session may not use ``dep`` now; None when it may."""
    exp = state()
    if exp.state == "signin" and signed_in():
        return None
    return exp.refusal(dep)


def notice(dep: Deployment) -> bool:
    """Show the refusal for ``dep`` (if any) as a warning; True when it is refused."""
    why = refusal(dep)
    if why:
        st.warning(why, icon=":material/lock:")
    return why is not None


def take_turn() -> str | None:
    """When exposed, count a Live demo turn for this session; the sentence when over the limit."""
    exp = state()
    if not exp.exposed:
        return None
    try:
        per_min = turns_per_minute()
    except ValueError as e:
        return str(e)
    limiter = st.session_state.get(LIMITER)
    if limiter is None or limiter.per_minute != per_min:
        limiter = st.session_state[LIMITER] = TurnLimiter(per_min)
    wait = limiter.take()
    if wait is None:
        return None
    return f"This session has used its {per_min} turns a minute; try again in {wait:.0f} s (the limit is STREAMING_DEMO_TURNS_PER_MIN)."


def bench_refusal(names: Iterable[str], deployments: Iterable[Deployment]) -> str | None:
    """Why this session may not start a benchmark on ``names``; None when it may."""
    deps = list(deployments)
    exp = state(deps)
    by_name = {d.name: d for d in deps}
    for n in names:
        d = by_name.get(n)
        why = refusal(d) if d is not None and keyed(d) else None
        if why:
            return why
    return may_benchmark(exp, user_email())


def budget_tokens() -> int:
    raw = os.environ.get(BUDGET_ENV, "").strip()
    return int(raw) if raw.isdigit() else DEFAULT_BUDGET_TOKENS


def confirm_cost(est: CostEstimate, budget: int) -> bool | None:
    """The estimate and a confirm button: True when confirmed, False when cancelled, None while waiting."""
    with st.container(border=True):
        st.warning(f"Cost guard: {est.sentence()}, above the budget of {budget:,} tokens. Nothing has been sent.", icon=":material/payments:")
        a, b = st.columns(2)
        if a.button(f"Confirm: send {est.requests:,} requests", key="cost_confirm", type="primary"):
            return True
        if b.button("Cancel", key="cost_cancel"):
            return False
    return None


@st.cache_resource(show_spinner=False)
def _passcode_check_for(fingerprint: str) -> PasscodeCheck:  # noqa: ARG001 - the cache key: one check (and failure count) per passcode
    return PasscodeCheck(os.environ.get(PASSCODE_ENV, ""))


def _passcode_check() -> PasscodeCheck:
    """The check for the current passcode (its counts are per client), cached under its SHA-256 (never the passcode itself)."""
    return _passcode_check_for(hashlib.sha256(os.environ.get(PASSCODE_ENV, "").encode()).hexdigest())


def _oidc_provider(auth: Any) -> str | None:
    """The provider name for ``st.login`` when secrets.toml has ``[auth.NAME]``; None for a flat ``[auth]``."""
    try:
        for k, v in auth.items():
            if hasattr(v, "get") and v.get("client_id"):
                return str(k)
    except Exception:
        pass
    return None


def page_panel() -> None:
    """For a page file: the sign-in panel, unless app.py drew it this run.

    A deep link (``/benchmark``) can run a page without app.py (Streamlit serves it as a legacy ``pages/``
    page), so each page calls this; the refusals themselves are checked by the pages in any case.
    """
    if not st.session_state.pop(SHOWN, False):
        sidebar_panel()
        st.session_state.pop(SHOWN, None)


def sidebar_panel() -> None:
    """Where the app listens and, when exposed with keyed deployments, the sign-in (OIDC and/or passcode).

    Its buttons act in callbacks: called before ``st.navigation``, a button's return value was lost on the
    first click after the page loaded (seen in Chromium with streamlit 1.67), a callback's effect is not.
    """
    exp = state()
    st.session_state[SHOWN] = True
    with st.sidebar:
        st.caption(exp.listening(), help="server.address in .streamlit/config.toml; see the README, \"Exposing the app\"")
        if exp.state == "refused":
            st.caption("No sign-in is configured: keyed deployments are off; built-ins work.")
        if exp.state != "signin":
            return
        user = _oidc_user()
        if user is not None:
            st.caption(f"Signed in as {user.get('email') or user.get('name') or 'an OIDC user'}.")
            st.button("Sign out", key="sign_out", on_click=st.logout)
            return
        if st.session_state.get(SIGNED_IN) == "passcode":
            st.caption("Signed in with the passcode.")
            st.button("Sign out", key="sign_out", on_click=lambda: st.session_state.pop(SIGNED_IN, None))
            return
        st.markdown("**Sign in** to use keyed deployments")
        if exp.oidc:
            auth = _auth_section()
            provider = _oidc_provider(auth)
            st.button("Sign in with your organisation", key="oidc_login", icon=":material/login:", on_click=_login, args=(provider,))
        if exp.passcode:
            st.text_input("Passcode", type="password", key=PASSCODE_INPUT, placeholder=PASSCODE_ENV)
            st.button("Sign in", key="passcode_sign_in", on_click=_try_passcode)
            if st.session_state.get(WRONG):
                st.error(st.session_state[WRONG])


def _login(provider: str | None) -> None:
    # a callback, like the passcode's: it runs before the script, so the click is never lost to a rerun
    st.login(provider) if provider else st.login()


def _try_passcode() -> None:
    """The Sign in button's callback: check, then forget the attempt (it is never kept in the session)."""
    attempt = st.session_state.get(PASSCODE_INPUT) or ""
    st.session_state[PASSCODE_INPUT] = ""
    check = _passcode_check()
    session, address = _client()
    if check.check(attempt, session, address):
        st.session_state[SIGNED_IN] = "passcode"
        st.session_state.pop(WRONG, None)
    else:
        st.session_state[WRONG] = f"Wrong passcode. The next wrong attempt waits {check.next_delay_s(session, address):.0f} s."
