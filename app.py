"""Streaming LLM Lab: the navigation (one file per page under ``pages/``) and the shared chrome (sign-in).

Run with ``streamlit run app.py``. Works with no keys: the built-in server (started
once per app process) serves ``local``, the simulated ``sim-*`` deployments and any replays.
The navigation is declared before anything slow is imported, so a first request (a deep link
such as ``/metrics`` included) paints the titled navigation at once.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

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
pages = [st.Page(path, title=title, icon=icon, url_path=url, default=i == 0) for i, (path, title, icon, url) in enumerate(PAGES) if (HERE / path).is_file()]
# Sent to the browser now, before the imports below (a second or more on a fresh process). A fresh process runs this
# file first as a legacy pages/ script: its own widgets would get other ids on that run than on later ones (a first
# click lost), so it has none; the pages' widgets keep theirs.
page = st.navigation(pages)

from ui import gate  # noqa: E402

gate.sidebar_panel()
page.run()
st.session_state.pop(gate.SHOWN, None)  # a page that does not take it (run alone, or failed early) leaves it for none
