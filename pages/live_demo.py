"""The Live demo: type a prompt, watch the answer stream in with its TTFT and tokens/s; race streaming against non-streaming.

The default page of ``app.py``'s navigation (served at the root URL). Its turns (chat, race, Continue,
Regenerate, Edit) share the sidebar's settings, the chat history and the stop/rerun rules of ``st.write_stream``;
what is not page code lives in ``streaming/demo/``.
"""

from __future__ import annotations

# ruff: noqa: E402 (the hand-over runs before the page's imports)
from ui.nav import hand_over

hand_over()  # opened by its URL before app.py ran: rerun under app.py's navigation before any slow import

import os

import streamlit as st

from streaming.core.config import REASONING_EFFORTS, Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import resume_request
from streaming.demo.answers import suited_apis
from streaming.demo.chats import drop_last_answer, drop_last_prompt, new_chat_id
from streaming.demo.continuation import Continues, continuation_of
from streaming.demo.inputs import max_tokens_problem, prompt_problem
from streaming.demo.turns import build_request
from streaming.errors import EndpointError
from ui import gate
from ui.chat import answer_actions, continue_button, example_prompts, render_message, show_user_text
from ui.chat_turn import chat_copy, demo_client, restore_chat, run_chat_turn, run_race_turn
from ui.sidebar import health_line, server_url, sidebar_deployment, warm_local_model

# Each repaint re-sends the whole Markdown: batch deltas into one repaint per interval.
DEFAULT_REPAINT_MS = min(250, max(10, int(os.environ.get("STREAMING_DEMO_REPAINT_MS", "50") or 50) // 10 * 10))

gate.page_panel()


def deployment_notice(dep: Deployment) -> None:
    if dep.provider == "local":
        st.info("`local` is Gemma 3 270M, a small **base** model run on this machine: expect poor answers, but the tokens and timings are real.", icon=":material/science:")
    elif dep.provider == "simulated":
        p = dep.sim
        prof = f" (about {p.ttft_ms:.0f} ms to the first token, {p.tokens_per_s:.0f} tokens/s)" if p else ""
        if p and p.reasoning_tokens:
            prof = (f" (about {p.ttft_ms:.0f} ms to start, then {p.reasoning_tokens} reasoning tokens at {p.reasoning_tokens_per_s:.0f}/s at medium effort "
                    f"before the first visible token, then {p.tokens_per_s:.0f} tokens/s)")  # fmt: skip
        st.info(f"`{dep.name}` is **simulated**: canned answers (whole sentences picked from your prompt) on a declared latency profile{prof}, served over real HTTP.", icon=":material/tune:")
    elif dep.provider == "replay":
        if dep.replay_problem:
            st.warning(f"`{dep.name}` cannot be replayed: {dep.replay_problem}", icon=":material/warning:")
            return
        st.info(f"`{dep.name}` is a **{dep.replay_label}**: the recorded answers at their recorded timings (the TTFT and every gap as they were "
                "measured), served over real HTTP on this machine. Your question gets the answer to the closest recorded prompt, "
                "else the recorded answers in turn. Its figures are not live measurements.", icon=":material/replay:")  # fmt: skip


def demo() -> None:
    dep = sidebar_deployment()
    st.session_state.setdefault("history", [])
    restore_chat()
    # an example, Regenerate or Edit (set on the previous run): applied before the chat is drawn
    pending = st.session_state.pop("pending", None)
    queued: str | None = None
    regenerate = False
    if pending is not None:
        kind, text = pending
        if kind == "regenerate":
            st.session_state["history"] = drop_last_answer(st.session_state["history"])
            regenerate = True
        else:
            if kind == "edit":
                st.session_state["history"] = drop_last_prompt(st.session_state["history"])
            queued = text
    with st.sidebar:
        st.markdown("### Live demo")
        effort: str | None = None
        temperature: float | None = None
        if dep.reasoning:  # reasoning models refuse a temperature: the effort is what the user can choose
            effort = st.selectbox("Reasoning effort", list(REASONING_EFFORTS), index=list(REASONING_EFFORTS).index(dep.reasoning_effort or "medium"),
                                  key="reasoning_effort", help="How much the model thinks before answering")  # fmt: skip
        else:
            temperature = st.slider("Temperature", 0.0, 2.0, 0.7, 0.1, key="temperature")
        if st.session_state.get("_budget_for") != dep.name or "max_tokens" not in st.session_state:  # a newly picked deployment starts at its own budget (room to think)
            st.session_state["_budget_for"] = dep.name
            st.session_state["max_tokens"] = dep.max_tokens_default()
        # no min/max on the widget: out of range, it would keep the last valid value silently; checked before sending
        max_tokens_raw = st.number_input("Max tokens", step=16, key="max_tokens",
                                         help="1 to 4096" + ("; reasoning models count their reasoning tokens in this budget" if dep.reasoning else ""))  # fmt: skip
        if max_tokens_problem(max_tokens_raw):
            st.error(max_tokens_problem(max_tokens_raw))
        system = st.text_area("System prompt", "You are a helpful assistant. Answer briefly.", key="system", height=80)
        apis = suited_apis(dep)
        if st.session_state.get("_api_for") != dep.name or st.session_state.get("api") not in apis:  # a newly picked deployment starts on its own API
            st.session_state["_api_for"] = dep.name
            st.session_state["api"] = dep.api
        api = st.radio("API", list(apis), key="api", horizontal=True, help="The APIs that suit this deployment; it starts on its own",
                       format_func=lambda a: {"chat": "Chat", "responses": "Responses"}.get(a, "Completions (legacy)"))  # fmt: skip
        race = st.toggle("Race: streaming vs non-streaming", key="race", help="Send the same prompt both ways at once")
        with st.expander("Display"):
            smooth = st.toggle("Smooth display (steady frame rate)", key="smooth", help="Changes only the painting, never the measurement")
            interval_ms = st.slider("Repaint at most every (ms)", 10, 250, DEFAULT_REPAINT_MS, 10, key="interval_ms")
        st.toggle("Save demo turns", value=True, key="save_turns", help="Each turn goes to the results database (STREAMING_DB)")
        if st.button("Clear chat", key="clear"):
            st.session_state["history"] = []
            st.session_state["chat_id"] = new_chat_id()
            st.query_params.pop("chat", None)
        if dep.builtin:
            health_line()

    st.title("⚡ Live demo")
    st.caption("Type a prompt and watch the answer stream in, with time to first token (TTFT) and tokens/s measured by the client as bytes arrive.")
    deployment_notice(dep)
    refused = gate.notice(dep)  # exposed without sign-in: keyed deployments are refused (README, "Exposing the app")

    for m in st.session_state["history"]:
        render_message(m)
    if st.session_state.get("save_error"):
        st.caption(st.session_state.pop("save_error"))

    continue_slot = st.empty()  # emptied when a turn starts: one Continue button (and one row of actions) at a time
    with continue_slot.container():
        resume_from = continue_button(st.session_state["history"])
        answer_actions(st.session_state["history"])
        if not st.session_state["history"] and queued is None:
            example_prompts()
    prompt = st.chat_input("Ask something…", key="prompt", submit_mode="disable")
    if prompt is None:
        prompt = queued
    if prompt is None and resume_from is None and not regenerate:
        return
    problem = (prompt_problem(prompt) if prompt is not None else None) or max_tokens_problem(max_tokens_raw)
    if problem:
        st.error(problem, icon=":material/error:")
        return
    if dep.replay_problem:
        st.error(f"The request was not sent: `{dep.name}` cannot be replayed (see the note above). Pick another deployment, or record that run first.",
                 icon=":material/error:")  # fmt: skip
        return
    limited = None if refused else gate.take_turn()
    if refused or limited:
        st.error(limited or f"The request was not sent: `{dep.name}` is refused here (see above); pick a built-in deployment or sign in.")
        return
    max_tokens = int(max_tokens_raw)
    continue_slot.empty()
    if prompt:
        st.session_state["history"].append({"role": "user", "content": prompt})
        with st.chat_message("user"):
            show_user_text(prompt)
        copy = chat_copy()
        if copy is not None:
            copy.save(st.session_state["history"])  # kept at once: a reload while the server starts or the model loads finds it

    url = server_url() if dep.builtin else None
    if dep.builtin and url is None:
        return
    if dep.provider == "local":
        try:
            warm_local_model(url)
        except EndpointError as e:
            st.error(f"The local model could not be loaded: {str(e).splitlines()[0]}")
            return
    client = demo_client(url)
    history = st.session_state["history"]
    settings = {"smooth": smooth, "interval_ms": interval_ms}
    if resume_from is not None:  # a Continue: the chat up to the question, then the answer so far to go on from
        asked, shown = continuation_of(history)
        req = resume_request(build_request(asked, system, api, temperature, max_tokens, effort), StreamRecord.from_dict(resume_from["record"]), shown)
        run_chat_turn(client, dep, req, settings, Continues(shown, resume_from.get("status")))
        continue_button(history)  # a resumed answer can break off too
        answer_actions(history)
        return
    req = build_request(history, system, api, temperature, max_tokens, effort)
    (run_race_turn if race else run_chat_turn)(client, dep, req, settings)
    continue_button(history)  # right under an answer that just broke off (same key as on the next run)
    answer_actions(history)  # the same keys as on the next run


demo()
