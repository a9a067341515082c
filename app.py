"""Streaming LLM Lab: the navigation (one file per page under ``pages/``) and the shared chrome (deployment picker, sign-in).

Run with ``streamlit run app.py``. Works with no keys: the built-in server (started
once per app process) serves ``local``, the simulated ``sim-*`` deployments and any replays.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from streaming.core.config import BUILTINS, Deployment
from streaming.errors import ConfigError
from streaming.store.recordings import load_labelled
from ui import gate

HERE = Path(__file__).resolve().parent
# (file, title, icon, url path): the Live demo is the default page, served at the root URL
PAGES = (
    ("pages/live_demo.py", "Live demo", ":material/bolt:", "demo"),
    ("pages/benchmark.py", "Benchmark", ":material/speed:", None),
    ("pages/metrics.py", "Metrics", ":material/monitoring:", None),
    ("pages/deployments.py", "Deployments", ":material/hub:", None),
    ("pages/arena.py", "Arena", ":material/sports_score:", None),
)

st.set_page_config(page_title="Streaming LLM Lab", page_icon="⚡", layout="wide")


def deployments_file() -> str | None:
    return os.environ.get("STREAMING_DEPLOYMENTS") or None


def all_deployments() -> tuple[list[Deployment], str | None]:
    """Built-ins plus the deployments file; on a bad file, the built-ins and the error sentence."""
    try:
        return load_labelled(deployments_file()), None
    except ConfigError as e:
        return list(BUILTINS), str(e)


# -- shared sidebar ---------------------------------------------------------------


def sidebar_deployment() -> Deployment:
    deps, problem = all_deployments()
    by_name = {d.name: d for d in deps}
    with st.sidebar:
        st.markdown("### Deployment")
        if problem:
            st.error(f"The deployments file was not loaded, so only the built-ins are offered. {problem}")
        if st.session_state.get("deployment") not in by_name:
            st.session_state.pop("deployment", None)
        wanted = st.query_params.get("deployment")  # a link can open the demo on a deployment
        names = list(by_name)
        first = names.index(wanted) if wanted in by_name else names.index("sim-fast")
        name = st.selectbox("Deployment", names, index=first, key="deployment", format_func=lambda n: by_name[n].label, label_visibility="collapsed")
        dep = by_name[name]
        if dep.provider == "replay":  # the whole label: the select box cuts it
            st.caption(dep.replay_label or "Not playable: see the note on the right.")
        elif dep.description:
            st.caption(dep.description)
    return dep


st.session_state["selected_deployment"] = sidebar_deployment()
gate.sidebar_panel()
pages = [st.Page(path, title=title, icon=icon, url_path=url, default=i == 0) for i, (path, title, icon, url) in enumerate(PAGES) if (HERE / path).is_file()]
st.navigation(pages).run()
st.session_state.pop(gate.SHOWN, None)  # a page that does not take it (run alone, or failed early) leaves it for none
