"""Streaming LLM Lab: the navigation (one file per page under ``pages/``) and the shared chrome (deployment picker, sign-in).

Run with ``streamlit run app.py``. Works with no keys: the built-in server (started
once per app process) serves ``local``, the simulated ``sim-*`` deployments and any replays.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ui import gate
from ui.sidebar import sidebar_deployment

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


st.session_state["selected_deployment"] = sidebar_deployment()
gate.sidebar_panel()
pages = [st.Page(path, title=title, icon=icon, url_path=url, default=i == 0) for i, (path, title, icon, url) in enumerate(PAGES) if (HERE / path).is_file()]
st.navigation(pages).run()
st.session_state.pop(gate.SHOWN, None)  # a page that does not take it (run alone, or failed early) leaves it for none
