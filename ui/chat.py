"""The Live demo's chat widgets: the messages (chat and race), the thinking expander, and the buttons under an answer."""

from __future__ import annotations

from typing import Any

import streamlit as st

from streaming.core.record import StreamRecord
from streaming.demo.answers import api_label, can_continue, continued_caption, replay_caption
from streaming.demo.chats import EXAMPLE_PROMPTS
from streaming.demo.format import failure_sentence, metrics_line
from streaming.demo.inputs import fold, prompt_problem
from streaming.demo.race import RaceResult

FINALIZE_WAIT_S = 10.0


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
        caption = continued_caption(rec.resume_of, m.get("continues")) if rec is not None else None
        if caption:
            st.caption(caption)  # above the answer, where it showed while it streamed
        if rec is not None and rec.reasoning_text:
            show_thinking(st.container(), rec.reasoning_text, rec.thinking_s, live=False)
        if m["content"]:
            st.markdown(m["content"])
        if rec is None:  # cut off before its record (a reload mid-answer): what had arrived
            st.caption("stopped")
            return
        for note in (replay_caption(rec), api_label(rec)):
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


def show_text(slot: Any, text: str) -> None:
    if text:
        slot.markdown(text)
    else:
        slot.empty()


def continue_button(history: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A "Continue" button under an answer that broke off mid-stream; the message to resume when clicked."""
    last = history[-1] if history else None
    if not last or last.get("kind") != "chat" or not last.get("record") or not can_continue(StreamRecord.from_dict(last["record"])):
        return None
    clicked = st.button("Continue", key=f"continue-{len(history)}", icon=":material/play_arrow:",
                        help="Ask the model to go on from the answer so far (sent with it and an instruction to continue); recorded as a linked attempt")  # fmt: skip
    return last if clicked else None
