"""Arena: the same prompt to 2–4 deployments at once, streamed side by side, with a live finish line."""

from __future__ import annotations

# ruff: noqa: E402 (the hand-over runs before the page's imports)

import streamlit as st

from ui.nav import hand_over

hand_over()  # opened by its URL before app.py ran: rerun under app.py's navigation before any slow import
st.title(":material/sports_score: Arena")  # and the title before them too: a fresh process takes seconds over them

import os
import threading
import time
from typing import Any

from streaming.analysis.server_charts import lane_lines
from streaming.bench.scrape import scraper_for
from streaming.core.auth import Credentials, SafeSecrets
from streaming.core.client import Client
from streaming.bench.form import MAX_TOKENS
from streaming.core.budgets import answer_budget
from streaming.core.config import BUILTINS
from streaming.store.recordings import load_labelled
from streaming.core.record import StreamRecord
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.demo.arena import SCRAPE_INTERVAL_S, Arena, Standing, arena_problem, linked_lanes, place_line, save_arena
from streaming.demo.format import failure_sentence
from streaming.demo.inputs import prompt_problem
from streaming.demo.turns import default_store_path
from streaming.errors import ConfigError, EndpointError
from streaming.server.launcher import ensure_server
from streaming.store.samples import samples_frame
from ui import gate

gate.page_panel()
CURSOR = "▌"
REPAINT_S = 0.1
FINALIZE_WAIT_S = 15.0


def deployments() -> list[Any]:
    try:
        return load_labelled(os.environ.get("STREAMING_DEPLOYMENTS") or None)
    except ConfigError as e:
        st.warning(f"The deployments file was not loaded, so only the built-ins are offered. {e}")
        return list(BUILTINS)


def finish_line(rows: list[Standing]) -> str:
    first = sorted((r for r in rows if r.first_token_place), key=lambda r: r.first_token_place or 0)
    done = sorted((r for r in rows if r.finish_place), key=lambda r: r.finish_place or 0)
    a = ", ".join(f"{r.deployment} ({r.ttft_s * 1000:.0f} ms)" for r in first if r.ttft_s is not None) or "nobody yet"
    b = ", ".join(f"{r.deployment} ({r.e2e_s * 1000:.0f} ms{', cut at max tokens' if r.cut else ''})" for r in done if r.e2e_s is not None) or "nobody yet"
    return f":material/sports_score: **First token:** {a} · **Finished:** {b}"


def render_result(last: dict[str, Any]) -> None:
    """The last arena turn, after it ended (or was stopped)."""
    st.markdown(f"**Prompt:** {last['prompt']}")
    rows = [Standing(**s) for s in last["standings"]]
    st.markdown(finish_line(rows))
    for w in last.get("server_warnings", []):
        st.caption(w)
    server = last.get("server", {})
    for col, lane, row in zip(st.columns(len(last["lanes"])), last["lanes"], rows):
        with col.container(border=True):
            st.markdown(f"**{lane['label']}**")
            st.markdown(lane["text"] or "*(no text)*")
            rec = StreamRecord.from_dict(lane["record"])
            sentence = failure_sentence(rec)
            if sentence and rec.status == "cancelled":
                st.warning(sentence)
            elif sentence:
                st.error(sentence)
            st.caption(place_line(row))
            if row.deployment in server:  # the server's own metrics during the race (README: "Arena")
                st.caption(server[row.deployment])


st.caption("One prompt, 2–4 deployments at once, streamed side by side through the same client path. The finish line shows who "
           "reached the first token first and who finished first. ■ Stop all stops every lane. Each turn is saved as a linked group, "
           "so the Metrics page can compare deployments on the same prompts (paired statistics).")  # fmt: skip
deps = deployments()
by_name = {d.name: d for d in deps}
linked, unknown_lanes = linked_lanes(str(st.query_params.get("lanes", "")), list(by_name))  # ?lanes=a,b opens the arena on those
if unknown_lanes:
    st.warning(unknown_lanes)
default = linked or [n for n in st.session_state.get("_arena_keep", ["sim-fast", "sim-slow"]) if n in by_name]
chosen = st.multiselect("Deployments (2–4)", list(by_name), default=default, max_selections=4, format_func=lambda n: by_name[n].label, key="arena_deps")
st.session_state["_arena_keep"] = list(chosen)
asked = st.number_input("Max tokens", value=96, step=16, key="arena_max_tokens")  # no min/max: checked below (bench.form)
bad_tokens = MAX_TOKENS.problem(asked)
budgets = {n: answer_budget(by_name[n], int(asked)) for n in chosen} if not bad_tokens else {}
raised = sorted({b for b in budgets.values() if b != asked})
if raised:
    st.caption(f"Reasoning lanes get {raised[0]} max tokens: their thinking counts against the budget, so it leaves room for the answer.")
problem = arena_problem(list(chosen)) or bad_tokens
if bad_tokens:
    st.error(bad_tokens)
elif problem:
    st.info(problem)
max_tokens = int(asked) if not bad_tokens else 0
prompt = st.chat_input("The same prompt to every lane…", key="arena_prompt", disabled=problem is not None)

running = st.session_state.get("arena_running")
if running is not None:  # fast reruns: a Stop starts this run while the stopped one is still closing its lanes
    running.wait(FINALIZE_WAIT_S)
if prompt is None or problem:
    prev = st.session_state.get("arena_last")
    if prev and prev.get("lanes"):
        render_result(prev)
        if prev.get("save_error"):
            st.caption(prev["save_error"])
    st.stop()
bad = prompt_problem(prompt)
if bad:
    st.error(bad)
    st.stop()
lanes = [by_name[n] for n in chosen]
refused = next((why for d in lanes if (why := gate.refusal(d))), None) or gate.take_turn()  # exposed: keyed lanes need a sign-in
if refused:
    st.error(f"The arena did not start: {refused}")
    st.stop()

try:
    url = ensure_server().url if any(d.builtin for d in lanes) else None
    client = Client(deps, server_url=url, credentials=Credentials(secrets=SafeSecrets(st.secrets)), timeouts=Timeouts(connect_s=10.0, stall_s=120.0),
                    retry=RetryPolicy(max_retries=0))  # fmt: skip
    arena = Arena(client, lanes, LLMRequest.chat(prompt, max_tokens=max_tokens, temperature=0.7))
except (ConfigError, EndpointError) as e:
    st.error(f"The arena did not start: {e}")
    st.stop()

st.markdown(f"**Prompt:** {prompt}")
line = st.empty()
bodies, infos = [], []
for col, d in zip(st.columns(len(lanes)), lanes):
    with col.container(border=True):
        st.markdown(f"**{d.label}**")
        bodies.append(st.empty())
        infos.append(st.empty())
st.button("■ Stop all", key="arena_stop", help="Stop every lane; the partial answers are kept")
done = st.session_state["arena_running"] = threading.Event()
# Filled in `finally` without calling Streamlit: during a Stop, even st.session_state raises StopException there.
last: dict[str, Any] = {}
st.session_state["arena_last"] = last
save_turns = st.session_state.get("save_turns", True)
arena.start(scraper_for(None, "", lanes, url, SCRAPE_INTERVAL_S, clock=client.clock, keep=True))  # the servers' side, kept till saved
try:
    last_paint = 0.0
    while arena.pump(0.05):
        if time.monotonic() - last_paint >= REPAINT_S:  # each repaint re-sends the Markdown: at most one per interval
            last_paint = time.monotonic()
            rows = arena.standings()
            line.markdown(finish_line(rows))
            for c, body, info, row in zip(arena.columns, bodies, infos, rows):
                body.markdown(c.text + CURSOR if c.text else "")
                info.caption(place_line(row))
finally:
    try:
        arena.cancel()  # a Stop (or any rerun) lands here: every lane stops
        records = arena.join()
        client.close()
        rows = arena.standings(final=True)
        last.update(prompt=prompt, standings=[r.__dict__ for r in rows], server=lane_lines(samples_frame(arena.samples)),
                    server_warnings=arena.server_warnings,
                    lanes=[{"label": c.deployment.label, "text": r.text, "record": r.to_dict()} for c, r in zip(arena.columns, records)])  # fmt: skip
        if save_turns:
            from streaming.store import Store

            with Store(default_store_path()) as db:
                last["save_error"] = save_arena(records, db, prompt, arena)
    finally:
        done.set()
st.rerun()  # draw the finished turn once, from the session (the same view as after a Stop)
