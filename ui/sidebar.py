"""The Live demo's sidebar parts: the deployment picker, and the built-in server's health line and restart."""

from __future__ import annotations

import os

import streamlit as st

from streaming.core.config import BUILTINS, Deployment
from streaming.core.record import StreamRecord
from streaming.errors import ConfigError, EndpointError
from streaming.server import launcher
from streaming.server.health import server_health
from streaming.store.recordings import load_labelled


def deployments_file() -> str | None:
    return os.environ.get("STREAMING_DEPLOYMENTS") or None


def all_deployments() -> tuple[list[Deployment], str | None]:
    """Built-ins plus the deployments file; on a bad file, the built-ins and the error sentence."""
    try:
        return load_labelled(deployments_file()), None
    except ConfigError as e:
        return list(BUILTINS), str(e)


# -- the Live demo's deployment picker ----------------------------------------------

PICKED = "_picked_deployment"  # the last pick: the picker's own state goes while another page is shown


def sidebar_deployment() -> Deployment:
    """The deployment picker, in the sidebar of the page that uses it (the Live demo).

    A new session (a browser reload, a link) starts on the URL's ``?deployment=NAME``, a return from another page on
    the last pick; the pick is written back to the URL, so a reload keeps it."""
    deps, problem = all_deployments()
    by_name = {d.name: d for d in deps}
    names = list(by_name)
    with st.sidebar:
        st.markdown("### Deployment")
        if problem:
            st.error(f"The deployments file was not loaded, so only the built-ins are offered. {problem}")
        if st.session_state.get("deployment") not in by_name:
            wanted = (st.query_params.get("deployment"), st.session_state.get(PICKED), "sim-fast")
            st.session_state["deployment"] = next((n for n in wanted if n in by_name), names[0])
        name = st.selectbox("Deployment", names, key="deployment", format_func=lambda n: by_name[n].label, label_visibility="collapsed")
        st.session_state[PICKED] = name
        if st.query_params.get("deployment") != name:
            st.query_params["deployment"] = name
        dep = by_name[name]
        if dep.provider == "replay":  # the whole label: the select box cuts it
            st.caption(dep.replay_label or "Not playable: see the note on the right.")
        elif dep.description:
            st.caption(dep.description)
    return dep


def warm_local_model(server_url: str) -> None:
    """Load the local model now (a no-op once its worker runs), so the first answer's TTFT is not the load time."""
    with st.spinner("Loading the local model…"):
        launcher.warm_local(server_url)


def server_url() -> str | None:
    """The built-in server's URL, or None (with a plain error shown) when it cannot start.

    The launcher supervises the server: if it died, this restarts it on the same URL and the
    notice saying how it ended is shown once.
    """
    try:
        with st.spinner("Starting the built-in server…"):
            url = launcher.ensure_server().url
    except EndpointError as e:
        st.error(f"The built-in server for `local` and `sim-*` could not start: {str(e).splitlines()[0]}")
        return None
    notice = launcher.take_notice()
    if notice:
        st.warning(notice[0].upper() + notice[1:] + ".", icon=":material/restart_alt:")
    return url


def health_line() -> None:
    """The built-in server's health (up, local model, restarts) and a restart button, in the sidebar."""
    url = server_url()
    if url is None:
        return
    st.caption(f":material/dns: {server_health(url).line()}")
    if st.button("Restart the built-in server", key="restart_server", icon=":material/restart_alt:"):
        try:
            with st.spinner("Restarting the built-in server…"):
                launcher.restart_server()
        except EndpointError as e:
            st.error(f"Not restarted: {e}.")
        else:
            launcher.take_notice()
            st.rerun()


def server_notice(dep: Deployment, rec: StreamRecord) -> str | None:
    """After a failed built-in turn: did the server itself die? Then it is restarted, and this says so."""
    if not dep.builtin or rec.ok or rec.status == "cancelled":
        return None
    notice = launcher.check_server()
    return notice[0].upper() + notice[1:] + "." if notice else None
