"""The hand-over to ``app.py``'s navigation: light on purpose (Streamlit only), so it runs before any slow import."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

HANDED_OVER = "_nav_handover"


def hand_over() -> None:
    """For a page file: start this run again under ``app.py``'s ``st.navigation`` when Streamlit runs the file alone.

    A fresh app process does that for a deep link as its first request (``/metrics``): the page file as a legacy
    ``pages/`` script, under raw file-name navigation without the shared sidebar. Call it first: until it reruns,
    the browser shows that raw navigation, so no slow import may come before it.
    """
    if PagesManager.uses_pages_directory and not st.session_state.get(HANDED_OVER):
        st.session_state[HANDED_OVER] = True  # once per session: AppTest sets Streamlit's flag again on every run
        PagesManager.uses_pages_directory = False
        st.rerun()
