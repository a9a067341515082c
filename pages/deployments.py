"""Deployments: what the app can talk to, where each key comes from (never the key), and a one-request check."""

from __future__ import annotations

# ruff: noqa: E402 (the hand-over runs before the page's imports)

import streamlit as st

from ui.nav import hand_over

hand_over()  # opened by its URL before app.py ran: rerun under app.py's navigation before any slow import
st.title("Deployments")  # and the title before them too: a fresh process takes seconds over them

import os

import pandas as pd

from streaming.core.auth import Credentials, SafeSecrets
from streaming.core.client import Client
from streaming.core.budgets import answer_budget
from streaming.core.config import BUILTINS
from streaming.store.recordings import load_labelled
from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
from streaming.demo.format import failure_sentence, metrics_line
from streaming.core.inspector import inspect_capture, inspect_request
from streaming.errors import ConfigError, EndpointError, StreamingError
from streaming.server.launcher import ensure_server
from ui import gate

gate.page_panel()
CHECK_TOKENS = 16  # a short answer; a reasoning deployment gets room for its thinking too (answer_budget)
path = os.environ.get("STREAMING_DEPLOYMENTS") or "deployments.toml"
st.caption(f"Built-ins, plus `{path}` when it exists (set `STREAMING_DEPLOYMENTS` to use another file). Keys come from the environment or `.streamlit/secrets.toml` and are never shown.")

try:
    deps = load_labelled(os.environ.get("STREAMING_DEPLOYMENTS") or None)
except ConfigError as e:  # the built-ins still work: show them beside the error
    st.error(f"The deployments file could not be loaded, so only the built-in deployments are shown: {e}")
    deps = list(BUILTINS)

creds = Credentials(secrets=SafeSecrets(st.secrets))
rows = []
for d in deps:
    if d.builtin:
        key = "not needed (built-in)"
    elif d.auth == "entra":
        key = "Entra ID token"
    elif not d.api_key_env:
        key = "none"
    else:
        key = f"{d.api_key_env}: {'set' if creds.lookup(d.api_key_env) else 'NOT SET'}"
    where = d.endpoint or d.base_url or "built-in server (loopback)"
    kind = {"simulated": "simulated", "local": "local model (small base model)"}.get(d.provider, d.provider)
    if d.provider == "replay":
        kind = d.replay_label or f"replay, not playable: {d.replay_problem}"
    rows.append({"name": d.name, "kind": kind, "model": d.model or d.deployment, "where": where, "key": key, "from": d.source})
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder="—")  # a missing value, not "None"

st.subheader("Check one")
names = [d.name for d in deps]
name = st.selectbox("Deployment to check", names, index=names.index("sim-fast"), key="check_deployment")
if st.button("Send one short request", key="check"):
    dep = next(d for d in deps if d.name == name)
    refused = gate.refusal(dep)
    try:
        if refused:
            raise ConfigError(refused)
        url = ensure_server().url if dep.builtin else None
        with Client(deps, server_url=url, credentials=creds, timeouts=Timeouts(connect_s=5, stall_s=30), retry=RetryPolicy(max_retries=0)) as c:
            with st.spinner(f"Asking {dep.name}…"):
                rec = c.run(dep, LLMRequest.chat("Say hello in five words.", max_tokens=answer_budget(dep, CHECK_TOKENS), temperature=0.0))
    except (ConfigError, EndpointError) as e:
        st.error(f"The request was not sent: {e}")
    else:
        sentence = failure_sentence(rec)
        if sentence:
            st.error(sentence)
        else:
            st.success("It answered.")
        if rec.text:
            st.markdown(rec.text)
        st.caption(metrics_line(rec, 0.0))

with st.expander("deployments.toml format"):
    st.code(
        """[[deployments]]
name = "gpt-4o-eastus"
provider = "azure"              # azure | openai | compatible | local | simulated | replay
endpoint = "https://my-resource.openai.azure.com"
deployment = "gpt-4o"
api_version = "2024-10-21"
api_key_env = "AZURE_OPENAI_API_KEY"   # the key itself never goes in this file

[[deployments]]
name = "sim-gpt4o-like"
provider = "simulated"
ttft_ms = 350
tokens_per_s = 60

[[deployments]]
name = "gpt-4o-offline"
provider = "replay"             # a recorded run, at its recorded timings
deployment = "gpt-4o-eastus"    # its latest run in the results database (or run = "RUN_ID")""",
        language="toml",
    )

with st.expander("Inspect a stream"):
    st.markdown("Every event of one stream, when it arrived, and what the client made of it: which event set TTFT and which the first reasoning time, and how the tokens were counted.")
    i_name = st.selectbox("Deployment", names, index=names.index("sim-fast"), key="inspect_deployment")
    i_prompt = st.text_input("Prompt", "Say hello in five words.", key="inspect_prompt")
    i_upload = st.file_uploader("…or a captured stream: a raw SSE body or a HAR file from the browser's developer tools", key="inspect_file")
    i_paste = st.text_area("…or paste a raw SSE body", key="inspect_paste", height=80)
    if st.button("Inspect", key="inspect_go"):
        try:
            if i_upload is not None or i_paste.strip():
                ins = inspect_capture(i_upload.getvalue() if i_upload is not None else i_paste.encode(), i_upload.name if i_upload is not None else "pasted body")
            else:
                i_dep = next(d for d in deps if d.name == i_name)
                refused = gate.refusal(i_dep)
                if refused:
                    raise ConfigError(refused)
                url = ensure_server().url if i_dep.builtin else None
                with st.spinner(f"Asking {i_name}…"):
                    ins = inspect_request(deps, i_name, i_prompt, server_url=url, credentials=creds)
        except (StreamingError, OSError) as e:
            st.error(f"Nothing to inspect: {e}")
        else:
            st.markdown(f"**{ins.source}**" + ("" if ins.timed else " (a capture: no arrival times)"))
            st.dataframe(pd.DataFrame(ins.rows()), hide_index=True, width="stretch", placeholder="—")
            st.code("\n".join(ins.summary()), language=None)
