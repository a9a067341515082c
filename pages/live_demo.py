"""The Live demo: type a prompt, watch the answer stream in with its TTFT and tokens/s; race streaming against non-streaming.

The default page of ``app.py``'s navigation (served at the root URL). Its turns (chat, race, Continue,
Regenerate, Edit) share the sidebar's settings, the chat history and the stop/rerun rules of ``st.write_stream``;
what is not page code lives in ``streaming/demo/``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Any

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from ui import gate
from streaming.core.auth import Credentials, SafeSecrets
from streaming.core.client import Client
from streaming.core.config import (
    APIS,
    BUILTINS,
    REASONING_EFFORTS,
    Deployment,
)
from streaming.core.record import StreamRecord
from streaming.core.request import (
    LLMRequest,
    RetryPolicy,
    Timeouts,
    resume_request,
)
from streaming.demo.answers import api_label, can_continue, continued_caption, replay_caption
from streaming.demo.chats import (
    EXAMPLE_PROMPTS,
    drop_last_answer,
    drop_last_prompt,
    load_chat,
    new_chat_id,
    save_chat,
)
from streaming.demo.format import failure_sentence, metrics_line
from streaming.demo.inputs import fold, max_tokens_problem, prompt_problem
from streaming.demo.liveline import LiveLine, waiting_for_whole_answer
from streaming.demo.pacing import Batcher, Smoother
from streaming.demo.race import Race, RaceResult
from streaming.demo.reader import ThreadedReader, frames
from streaming.demo.turns import build_request, default_store_path, prompt_of, save_turn
from streaming.errors import ConfigError, EndpointError
from streaming.server import launcher
from streaming.server.health import server_health


# Opened by its URL before app.py ever ran: hand over to app.py's navigation (see pages/benchmark.py).
if PagesManager.uses_pages_directory and not st.session_state.get("_nav_handover"):
    st.session_state["_nav_handover"] = True
    PagesManager.uses_pages_directory = False
    st.rerun()

gate.page_panel()

CURSOR = "▌"
FINALIZE_WAIT_S = 10.0
# Each repaint re-sends the whole Markdown: batch deltas into one repaint per interval.
DEFAULT_REPAINT_MS = min(250, max(10, int(os.environ.get("STREAMING_DEMO_REPAINT_MS", "50") or 50) // 10 * 10))


# -- shared resources (one per app process; never mutated) -------------------------


@st.cache_resource(show_spinner=False)
def demo_client(server_url: str | None) -> Client:
    return Client(
        list(BUILTINS),
        server_url=server_url,
        credentials=Credentials(secrets=SafeSecrets(st.secrets)),
        timeouts=Timeouts(connect_s=10.0, stall_s=120.0),
        retry=RetryPolicy(max_retries=1, base_s=0.3, max_wait_s=5.0),
    )


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


# -- the demo page -------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def demo_store(path: str) -> Any:
    from streaming.store import Store

    return Store(path)


def turn_store() -> Any:
    """Where this turn will be saved (None when "Save demo turns" is off). Read before streaming: once the user
    stops the run, every Streamlit call (even ``st.session_state``) raises, and the stopped turn must still be saved."""
    return demo_store(default_store_path()) if st.session_state.get("save_turns", True) else None


def save(records: list[StreamRecord], kind: str, db: Any, req: LLMRequest) -> None:
    """Save a finished or stopped turn to ``db`` (from ``turn_store``); a failure is shown once, never raised."""
    problem = save_turn(records, kind, db, prompt_of(req))
    if problem:
        with contextlib.suppress(ScriptControlException):  # a stopped run cannot show it; the turn is what matters
            st.session_state["save_error"] = problem
    if db is not None:
        with contextlib.suppress(ScriptControlException):  # after a Stop the chat's copy waits for the next run
            persist_chat()


def persist_chat() -> None:
    """Keep the chat in the results database under ``?chat=ID``, so a browser reload brings it back."""
    cid = st.session_state.setdefault("chat_id", new_chat_id())
    try:
        save_chat(default_store_path(), cid, st.session_state.get("history", []))
        st.query_params["chat"] = cid
    except Exception as e:  # the chat matters more than its copy
        st.session_state["save_error"] = f"The chat was not kept for a reload ({type(e).__name__})."


def restore_chat() -> None:
    """A reload starts a new session: bring the chat back from the database by the URL's ``?chat=ID``."""
    if "chat_id" in st.session_state:
        return
    cid = st.query_params.get("chat")
    st.session_state["chat_id"] = cid or new_chat_id()
    if cid and not st.session_state.get("history"):
        try:
            msgs = load_chat(default_store_path(), cid)
        except Exception:
            msgs = None
        if msgs:
            st.session_state["history"] = msgs


def example_prompts() -> None:
    """On an empty chat: a few prompts to start with (each is sent as typed)."""
    cols = st.columns(len(EXAMPLE_PROMPTS))
    for i, (col, text) in enumerate(zip(cols, EXAMPLE_PROMPTS)):
        if col.button(text, key=f"example-{i}", use_container_width=True):
            st.session_state["pending"] = ("example", text)
            st.rerun()


def answer_actions(history: list[dict[str, Any]]) -> None:
    """Regenerate, Edit (the last prompt, then resend) and Copy under the last finished answer."""
    last = history[-1] if history else None
    if not last or last["role"] != "assistant" or last.get("status") == "streaming" or not any(m["role"] == "user" for m in history):
        return
    n = len(history)
    c1, c2, c3, _ = st.columns([1, 1, 1, 3])
    if c1.button("Regenerate", key=f"regen-{n}", icon=":material/refresh:", help="Ask the same again; the new answer replaces this one"):
        st.session_state["pending"] = ("regenerate", None)
        st.rerun()
    last_user = next(m["content"] for m in reversed(history) if m["role"] == "user")
    with c2.popover("Edit", icon=":material/edit:", help="Change your last message and send it again"):
        text = st.text_area("Your last message", last_user, key=f"edit-text-{n}")
        if st.button("Send", key=f"edit-send-{n}", type="primary"):
            problem = prompt_problem(text)
            if problem:
                st.error(problem)
            else:
                st.session_state["pending"] = ("edit", text)
                st.rerun()
    with c3.popover("Copy", icon=":material/content_copy:", help="The answer as plain text, with a copy button"):
        st.code(last.get("content") or "", language=None, wrap_lines=True)


def render_message(m: dict[str, Any]) -> None:
    final = m.get("_final")
    if final is not None:
        # With fast reruns, a Stop or a widget change starts the next run while the
        # interrupted one is still closing its stream: wait for its final record.
        final.wait(FINALIZE_WAIT_S)
    with st.chat_message(m["role"]):
        if m["role"] == "user":
            show_user_text(m["content"])
            return
        if m.get("kind") == "race":
            render_race(m)
            return
        rec = StreamRecord.from_dict(m["record"]) if m.get("record") else None
        if rec is not None and rec.reasoning_text:
            show_thinking(st.container(), rec.reasoning_text, rec.thinking_s, live=False)
        if m["content"]:
            st.markdown(m["content"])
        if rec is None:
            st.caption("stopped")
            return
        for note in (replay_caption(rec), continued_caption(rec), api_label(rec)):
            if note:
                st.caption(note)
        sentence = failure_sentence(rec)
        if sentence:
            (st.warning if rec.status == "cancelled" else st.error)(sentence)
        if m.get("server_notice"):
            st.error(m["server_notice"])
        st.caption(metrics_line(rec, m.get("temperature")))


def show_user_text(text: str) -> None:
    """A user message; a long one is folded (its head, its size in tokens, the rest in an expander)."""
    f = fold(text)
    if not f.folded:
        st.markdown(text)
        return
    st.markdown(f.head)
    st.caption(f.summary)
    with st.expander("Show the whole prompt"):
        st.text(text)


def render_race(m: dict[str, Any]) -> None:
    left, right = st.columns(2)
    recs = [StreamRecord.from_dict(r) if r else None for r in (m.get("record"), m.get("plain_record"))]
    for col, title, rec, text in ((left, "Streaming", recs[0], m["content"]), (right, "Non-streaming", recs[1], m.get("plain_content", ""))):
        with col:
            st.markdown(f"**{title}**")
            if text:
                st.markdown(text)
            if rec is not None:
                sentence = failure_sentence(rec)
                if sentence:
                    (st.warning if rec.status == "cancelled" else st.error)(sentence)
                st.caption(metrics_line(rec, m.get("temperature")))
    if recs[0] is not None and recs[1] is not None:
        render_waits(RaceResult.of(recs[0], recs[1]))


def render_waits(res: RaceResult) -> None:
    a, b, c = st.columns(3)

    def fmt(v: float | None) -> str:
        return "n/a" if v is None else (f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s")

    a.metric("Streaming: first words after", fmt(res.stream_wait_s), help="TTFT of the streamed request")
    b.metric("Non-streaming: whole answer after", fmt(res.plain_wait_s), help="e2e of the non-streamed request: nothing shows before it")
    c.metric("Non-streaming user waits", "n/a" if res.ratio is None else f"{res.ratio:.1f}× longer")


def show_thinking(slot: Any, reasoning: str, seconds: float | None, live: bool) -> None:
    """The reasoning summary in an expander: open with a ticking "Thinking… 1.4 s" while the model thinks, collapsed after."""
    label = (f"Thinking… {seconds or 0.0:.1f} s" if live else
             f"Thought for {seconds:.1f} s" if seconds is not None else "Reasoning summary")  # fmt: skip
    with slot.container():
        with st.expander(label, expanded=live):
            st.markdown(reasoning or "…")


def paint(reader: ThreadedReader, msg: dict[str, Any], field: str, info: Any, settings: dict[str, Any], on_tick: Any = None,
          think: Any = None) -> Any:  # fmt: skip
    """Text batches for st.write_stream; keeps ``msg`` up to date and the live line fresh (each update is a stop point).

    ``think``: a slot for the reasoning summary, open while the model thinks and collapsed when the answer starts."""
    pacer = Smoother() if settings["smooth"] else Batcher()
    shown: list[str] = []
    live = LiveLine()
    thinking_open = False
    for fr in frames(reader, interval_s=settings["interval_ms"] / 1000.0, tick_s=0.1, pacer=pacer):
        if think is not None and fr.stats.thinking_s is not None:
            if not shown and not fr.text:  # still thinking: the label ticks, the summary grows
                show_thinking(think, fr.stats.reasoning, fr.stats.thinking_s, live=True)
                thinking_open = True
            elif thinking_open:  # the answer starts: collapse, once
                show_thinking(think, fr.stats.reasoning, fr.stats.thinking_s, live=False)
                thinking_open = False
        if fr.text:
            shown.append(fr.text)
            msg[field] = "".join(shown)
        if live.due(fr.stats, bool(shown), ticked=not fr.text) or fr.final:
            info.caption(LiveLine.text(fr.stats))
            if on_tick is not None:
                on_tick()
        if fr.text:
            yield fr.text


def show_text(slot: Any, text: str) -> None:
    if text:
        slot.markdown(text)
    else:
        slot.empty()


def finish(msg: dict[str, Any], field: str, rec_field: str, reader: ThreadedReader) -> StreamRecord:
    if not reader.finished:
        reader.cancel()
    rec = reader.join(10.0)
    msg[field] = rec.text
    msg[rec_field] = rec.to_dict()
    return rec


def run_chat_turn(client: Client, dep: Deployment, req: LLMRequest, settings: dict[str, Any]) -> None:
    history = st.session_state["history"]
    msg: dict[str, Any] = {"role": "assistant", "kind": "chat", "content": "", "record": None, "temperature": req.temperature, "status": "streaming",
                           "_final": threading.Event()}  # fmt: skip
    history.append(msg)  # before streaming: a Stop or rerun keeps whatever arrived
    with st.chat_message("assistant"):
        think = st.empty()
        body = st.empty()
        info = st.empty()
        stop = st.empty()
        try:
            stream = client.stream(dep, req)
        except (ConfigError, EndpointError) as e:
            msg["status"] = "error"
            history.pop()
            st.error(f"The request was not sent: {e}")
            return
        stop.button("■ Stop", key=f"stop-{len(history)}", help="Stop generating; the partial answer is kept")
        db = turn_store()
        reader = ThreadedReader(stream, client.clock).start()
        gen = paint(reader, msg, "content", info, settings, think=think)
        try:
            body.container().write_stream(gen, cursor=CURSOR)
        finally:
            gen.close()
            rec = finish(msg, "content", "record", reader)
            msg["status"] = rec.status
            msg["server_notice"] = server_notice(dep, rec)
            msg["_final"].set()
            save([rec], "chat", db, req)
        stop.empty()
        if rec.reasoning_text:
            show_thinking(think, rec.reasoning_text, rec.thinking_s, live=False)
        show_text(body, rec.text)
        sentence = failure_sentence(rec)
        with info.container():
            for note in (replay_caption(rec), continued_caption(rec), api_label(rec)):
                if note:
                    st.caption(note)
            if sentence:
                st.error(sentence)
            if msg["server_notice"]:
                st.error(msg["server_notice"])
            st.caption(metrics_line(rec, req.temperature))


def run_race_turn(client: Client, dep: Deployment, req: LLMRequest, settings: dict[str, Any]) -> None:
    history = st.session_state["history"]
    msg: dict[str, Any] = {"role": "assistant", "kind": "race", "content": "", "plain_content": "", "record": None, "plain_record": None,
                           "temperature": req.temperature, "status": "streaming", "_final": threading.Event()}  # fmt: skip
    history.append(msg)
    with st.chat_message("assistant"):
        left, right = st.columns(2)
        left.markdown("**Streaming**")
        right.markdown("**Non-streaming**")
        body, info = left.empty(), left.empty()
        plain_body, plain_info = right.empty(), right.empty()
        stop = st.empty()
        try:
            race = Race(client, dep, req)
        except (ConfigError, EndpointError) as e:
            history.pop()
            st.error(f"The request was not sent: {e}")
            return
        stop.button("■ Stop", key=f"stop-{len(history)}", help="Stop both requests")
        db = turn_store()
        race.start()

        def plain_tick() -> None:
            if not race.plain.finished:
                plain_info.caption(waiting_for_whole_answer(race.plain.stats().elapsed_s))

        gen = paint(race.streamed, msg, "content", info, settings, on_tick=plain_tick)
        try:
            body.container().write_stream(gen, cursor=CURSOR)
            info.caption(metrics_line(race.streamed.record, req.temperature))
            while not race.plain.finished:
                race.plain.take(0.1)
                plain_tick()
        finally:
            gen.close()
            s_rec = finish(msg, "content", "record", race.streamed)
            p_rec = finish(msg, "plain_content", "plain_record", race.plain)
            msg["status"] = s_rec.status
            msg["_final"].set()
            save([s_rec, p_rec], "race", db, req)
        stop.empty()
        for slot, sl_info, rec in ((body, info, s_rec), (plain_body, plain_info, p_rec)):
            show_text(slot, rec.text)
            with sl_info.container():
                sentence = failure_sentence(rec)
                if sentence:
                    st.error(sentence)
                st.caption(metrics_line(rec, req.temperature))
        render_waits(RaceResult.of(s_rec, p_rec))


def continue_button(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A "Continue" button under an answer that broke off mid-stream; the message to resume when clicked."""
    last = history[-1] if history else None
    if not last or last.get("kind") != "chat" or not last.get("record") or not can_continue(StreamRecord.from_dict(last["record"])):
        return None
    clicked = st.button("Continue", key=f"continue-{len(history)}", icon=":material/play_arrow:",
                        help="Ask again with the partial answer and an instruction to continue; recorded as a linked second attempt")  # fmt: skip
    return last if clicked else None


def demo() -> None:
    dep: Deployment = st.session_state["selected_deployment"]
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
        # no min/max on the widget: out of range, it would keep the last valid value silently; checked before sending
        max_tokens_raw = st.number_input("Max tokens", value=1024 if dep.reasoning else 256, step=16, key="max_tokens",
                                         help="1 to 4096" + ("; reasoning models count their reasoning tokens in this budget" if dep.reasoning else ""))  # fmt: skip
        if max_tokens_problem(max_tokens_raw):
            st.error(max_tokens_problem(max_tokens_raw))
        system = st.text_area("System prompt", "You are a helpful assistant. Answer briefly.", key="system", height=80)
        api = st.radio("API", list(APIS), index=list(APIS).index(dep.api), key="api", horizontal=True,
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
    asked = history if resume_from is None else history[:-1]  # a Continue re-asks the turn that broke off
    req = build_request(asked, system, api, temperature, max_tokens, effort)
    settings = {"smooth": smooth, "interval_ms": interval_ms}
    if resume_from is not None:
        req = resume_request(req, StreamRecord.from_dict(resume_from["record"]))
        run_chat_turn(client, dep, req, settings)
        continue_button(history)  # a resumed answer can break off too
        answer_actions(history)
        return
    (run_race_turn if race else run_chat_turn)(client, dep, req, settings)
    continue_button(history)  # right under an answer that just broke off (same key as on the next run)
    answer_actions(history)  # the same keys as on the next run


demo()
