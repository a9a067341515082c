"""The demo's chat, kept in the results database so that it survives a browser reload (``?chat=ID`` in the URL).

A table of its own (``demo_chats``: id, updated_at, messages as JSON), created on first use; the
messages are the page's dicts without their private keys (``_final``: a threading.Event).
"""

from __future__ import annotations

import sqlite3
import time
import uuid
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


def drop_last_answer(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat up to and including its last user message (Regenerate asks that again)."""
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    return history[: last_user + 1]


def drop_last_prompt(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chat before its last user message (Edit replaces that message and asks again)."""
    last_user = max((i for i, m in enumerate(history) if m["role"] == "user"), default=-1)
    return history[: max(last_user, 0)]
