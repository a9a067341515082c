"""The demo's chat, kept in the results database so that it survives a browser reload (``?chat=ID`` in the URL).

A table of its own (``demo_chats``: id, updated_at, messages as JSON), created on first use; the
messages are the page's dicts without their private keys (``_final``: a threading.Event). While a turn
runs, ``ChatCopy`` keeps it current: the question before the request is sent, the answer as it grows,
and the end (a Stop or a closed tab included), so a reload mid-answer loses neither.
"""

from __future__ import annotations

import math
import sqlite3
import time
import uuid
from collections.abc import Callable
from typing import Any

import orjson

_DDL = "CREATE TABLE IF NOT EXISTS demo_chats (id TEXT PRIMARY KEY, updated_at REAL NOT NULL, messages BLOB NOT NULL)"
EXAMPLE_PROMPTS = (
    "Why does streaming make a chat feel faster?",
    "What is time to first token, and why does p95 matter?",
    "How do provisioned and pay-as-you-go cloud capacity differ in latency?",
    "What does the temperature of a language model change?",
)


def new_chat_id() -> str:
    return uuid.uuid4().hex[:16]


def _connect(db_path: str) -> sqlite3.Connection:
    con = sqlite3.connect(db_path, timeout=10)
    con.execute(_DDL)
    return con


def save_chat(db_path: str, chat_id: str, history: list[dict[str, Any]]) -> None:
    """Replace the stored chat ``chat_id`` with ``history`` (private keys dropped)."""
    msgs = [{k: v for k, v in m.items() if not k.startswith("_")} for m in history]
    with _connect(db_path) as con:
        con.execute("INSERT OR REPLACE INTO demo_chats (id, updated_at, messages) VALUES (?, ?, ?)", (chat_id, time.time(), orjson.dumps(msgs)))


def load_chat(db_path: str, chat_id: str) -> list[dict[str, Any]] | None:
    """The stored chat, or None when there is none with that id."""
    with _connect(db_path) as con:
        row = con.execute("SELECT messages FROM demo_chats WHERE id = ?", (chat_id,)).fetchone()
    return None if row is None else list(orjson.loads(row[0]))


STREAMING = "streaming"  # the status of an answer still arriving (no record yet)
SETTLE_S = 3.0  # how long a restore waits for the final copy of an answer that was arriving when the page went away


def load_settled(db_path: str, chat_id: str, wait_s: float = SETTLE_S, poll_s: float = 0.1,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> list[dict[str, Any]] | None:  # fmt: skip
    """The stored chat for a restore. An answer still marked streaming was cut off by the reload itself: the session
    that streamed it writes its final copy (the stopped record) as it stops, so wait up to ``wait_s`` for that;
    after that it is shown as stopped, with the text it had."""
    deadline = clock() + wait_s
    msgs = load_chat(db_path, chat_id)
    while msgs and any(m.get("status") == STREAMING for m in msgs) and clock() < deadline:
        sleep(poll_s)
        msgs = load_chat(db_path, chat_id)
    for m in msgs or []:
        if m.get("status") == STREAMING:
            m["status"] = "cancelled"
    return msgs


class ChatCopy:
    """The stored copy of one chat while a turn runs: ``save`` at once, ``tick`` as the answer grows (a save at most every
    ``every_s``), ``save`` again at the end. No Streamlit here: it still works after a Stop or a closed tab, when every
    Streamlit call raises. ``problem`` says, in one sentence, why a save failed."""

    def __init__(self, db_path: str, chat_id: str, every_s: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.db_path = db_path
        self.chat_id = chat_id
        self.every_s = every_s
        self.clock = clock
        self.last = -math.inf
        self.problem: str | None = None

    def save(self, history: list[dict[str, Any]]) -> None:
        self.last = self.clock()
        try:
            save_chat(self.db_path, self.chat_id, history)
        except Exception as e:  # the chat matters more than its copy
            self.problem = f"The chat was not kept for a reload ({type(e).__name__})."

    def tick(self, history: list[dict[str, Any]]) -> None:
        if self.clock() - self.last >= self.every_s:
            self.save(history)


def drop_last_answer(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat up to and including its last user message (Regenerate asks that again)."""
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    return history[: last_user + 1]


def drop_last_prompt(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat before its last user message (Edit replaces that message and asks again)."""
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    return history[: max(last_user, 0)]
