"""One Live demo turn, streamed: the chat turn and the race, painted as the deltas arrive, kept as they stream and saved when done or stopped."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from streaming.core.auth import Credentials, SafeSecrets
from streaming.core.client import Client
from streaming.core.config import BUILTINS, Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.demo.answers import api_label, continued_caption, replay_caption
from streaming.demo.chats import ChatCopy, load_settled, new_chat_id
from streaming.demo.continuation import Continues, Dedup
from streaming.demo.format import failure_sentence, metrics_line
from streaming.demo.liveline import LiveLine, waiting_for_whole_answer
from streaming.demo.pacing import Batcher, Smoother
from streaming.demo.race import Race, RaceResult
from streaming.demo.reader import ThreadedReader, frames
from streaming.demo.turns import default_store_path, prompt_of, save_turn
from streaming.errors import ConfigError, EndpointError
from ui.chat import render_waits, show_text, show_thinking
from ui.sidebar import server_notice

CURSOR = "▌"


@st.cache_resource(show_spinner=False)
def demo_client(server_url: str | None) -> Client:
    return Client(
        list(BUILTINS),
        server_url=server_url,
        credentials=Credentials(secrets=SafeSecrets(st.secrets)),
        timeouts=Timeouts(connect_s=10.0, stall_s=120.0),
        retry=RetryPolicy(max_retries=1, base_s=0.3, max_wait_s=5.0),
    )


@st.cache_resource(show_spinner=False)
def demo_store(path: str) -> Any:
    from streaming.store import Store

    return Store(path)


def turn_store() -> Any:
    """Where this turn will be saved (None when "Save demo turns" is off). Read before streaming: once the user
    stops the run, every Streamlit call (even ``st.session_state``) raises, and the stopped turn must still be saved."""
    return demo_store(default_store_path()) if st.session_state.get("save_turns", True) else None


def chat_copy() -> ChatCopy | None:
    """The chat's stored copy for this turn, under ``?chat=ID`` (put in the URL now, before anything streams), so a
    reload mid-answer finds the question and the answer so far; None when "Save demo turns" is off."""
    if not st.session_state.get("save_turns", True):
        return None
    cid = st.session_state.setdefault("chat_id", new_chat_id())
    st.query_params["chat"] = cid
    return ChatCopy(default_store_path(), cid)


def save(records: list[StreamRecord], kind: str, db: Any, req: LLMRequest, copy: ChatCopy | None, history: list[dict[str, Any]]) -> None:
    """Save a finished or stopped turn to ``db`` (from ``turn_store``) and the chat's copy; a failure is shown once, never raised."""
    problem = save_turn(records, kind, db, prompt_of(req))
    if copy is not None:
        copy.save(history)  # no Streamlit call: it works after a Stop or a reload too
        problem = problem or copy.problem
    if problem:
        with contextlib.suppress(ScriptControlException):  # a stopped run cannot show it; the turn is what matters
            st.session_state["save_error"] = problem


def restore_chat() -> None:
    """A reload starts a new session: bring the chat back from the database by the URL's ``?chat=ID``."""
    if "chat_id" in st.session_state:
        return
    cid = st.query_params.get("chat")
    st.session_state["chat_id"] = cid or new_chat_id()
    if cid and not st.session_state.get("history"):
        try:
            msgs = load_settled(default_store_path(), cid)
        except Exception:
            msgs = None
        if msgs:
            st.session_state["history"] = msgs


def paint(reader: ThreadedReader, msg: dict[str, Any], field: str, info: Any, settings: dict[str, Any], on_tick: Any = None,
          think: Any = None, dedup: Dedup | None = None) -> Any:  # fmt: skip
    """Text batches for st.write_stream; keeps ``msg`` up to date and the live line fresh (each update is a stop point).

    ``think``: a slot for the reasoning summary, open while the model thinks and collapsed when the answer starts.
    ``dedup``: a continuation's filter (what the answer above already shows is not shown again)."""
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
        text = fr.text if dedup is None else (dedup.push(fr.text) if fr.text else "") + (dedup.flush() if fr.final else "")
        if text:
            shown.append(text)
            msg[field] = "".join(shown)
        if live.due(fr.stats, bool(shown), ticked=not fr.text) or fr.final:
            info.caption(LiveLine.text(fr.stats))
            if on_tick is not None:
                on_tick()
        if text:
            yield text


def finish(msg: dict[str, Any], field: str, rec_field: str, reader: ThreadedReader, shown: str | None = None) -> StreamRecord:
    """The turn's record into ``msg``; its text as shown (``shown``: a continuation's answer above, not repeated)."""
    if not reader.finished:
        reader.cancel()
    rec = reader.join(10.0)
    msg[field] = rec.text if shown is None else Dedup.whole(shown, rec.text)
    msg[rec_field] = rec.to_dict()
    return rec


def run_chat_turn(client: Client, dep: Deployment, req: LLMRequest, settings: dict[str, Any], continues: Continues | None = None) -> None:
    """One answer, streamed; ``continues``: a Continue of the answer above (``req`` from ``resume_request``)."""
    history = st.session_state["history"]
    msg: dict[str, Any] = {"role": "assistant", "kind": "chat", "content": "", "record": None, "temperature": req.temperature, "status": "streaming",
                           "continues": continues.status if continues else None, "_final": threading.Event()}  # fmt: skip
    history.append(msg)  # before streaming: a Stop or rerun keeps whatever arrived
    copy = chat_copy()
    with st.chat_message("assistant"):
        note = st.empty()
        think = st.empty()
        body = st.empty()
        info = st.empty()
        stop = st.empty()
        try:
            stream = client.stream(dep, req)
        except (ConfigError, EndpointError) as e:
            msg["status"] = "error"
            history.pop()
            if copy is not None:
                copy.save(history)  # the question is kept
            st.error(f"The request was not sent: {e}")
            return
        caption = continued_caption(req.resume_of, msg["continues"])
        if caption:
            note.caption(caption)  # from the start of the continuation, not once it ends
        stop.button("■ Stop", key=f"stop-{len(history)}", help="Stop generating; the partial answer is kept")
        db = turn_store()
        if copy is not None:
            copy.save(history)  # the question (and an empty answer marked streaming) before the first token
        reader = ThreadedReader(stream, client.clock).start()
        gen = paint(reader, msg, "content", info, settings, think=think, on_tick=(lambda: copy.tick(history)) if copy else None,
                    dedup=Dedup(continues.shown) if continues else None)  # fmt: skip
        try:
            body.container().write_stream(gen, cursor=CURSOR)
        finally:
            gen.close()
            rec = finish(msg, "content", "record", reader, shown=continues.shown if continues else None)
            msg["status"] = rec.status
            msg["server_notice"] = server_notice(dep, rec)
            msg["_final"].set()
            save([rec], "chat", db, req, copy, history)
        stop.empty()
        if rec.reasoning_text:
            show_thinking(think, rec.reasoning_text, rec.thinking_s, live=False)
        show_text(body, msg["content"])
        sentence = failure_sentence(rec)
        with info.container():
            for line in (replay_caption(rec), api_label(rec)):
                if line:
                    st.caption(line)
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
    copy = chat_copy()
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
            if copy is not None:
                copy.save(history)
            st.error(f"The request was not sent: {e}")
            return
        stop.button("■ Stop", key=f"stop-{len(history)}", help="Stop both requests")
        db = turn_store()
        if copy is not None:
            copy.save(history)
        race.start()

        def plain_tick() -> None:
            if copy is not None:
                copy.tick(history)
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
            save([s_rec, p_rec], "race", db, req, copy, history)
        stop.empty()
        for slot, sl_info, rec in ((body, info, s_rec), (plain_body, plain_info, p_rec)):
            show_text(slot, rec.text)
            with sl_info.container():
                sentence = failure_sentence(rec)
                if sentence:
                    st.error(sentence)
                st.caption(metrics_line(rec, req.temperature))
        render_waits(RaceResult.of(s_rec, p_rec))
