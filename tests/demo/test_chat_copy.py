"""The demo's stored chat while a turn runs: the question at once, the answer as it grows, the end; a restore waits for it."""

from __future__ import annotations

import threading
from pathlib import Path

from streaming.demo.chats import ChatCopy, load_chat, load_settled


def test_the_copy_is_current_at_each_step(tmp_path: Path) -> None:
    db, now = str(tmp_path / "chat.db"), [0.0]
    copy = ChatCopy(db, "c1", every_s=1.0, clock=lambda: now[0])
    history = [{"role": "user", "content": "Why stream?"}, {"role": "assistant", "content": "", "status": "streaming", "_final": threading.Event()}]
    copy.save(history)
    assert [m["role"] for m in load_chat(db, "c1")] == ["user", "assistant"]  # the question, before any token
    history[1]["content"] = "Streaming sends"
    now[0] = 0.5
    copy.tick(history)  # too soon: at most one save a second
    assert load_chat(db, "c1")[1]["content"] == ""
    now[0] = 1.0
    copy.tick(history)
    assert load_chat(db, "c1")[1]["content"] == "Streaming sends" and "_final" not in load_chat(db, "c1")[1]
    assert copy.problem is None
    bad = ChatCopy(str(tmp_path / "missing" / "x.db"), "c1")
    bad.save(history)  # a save that fails is a sentence, never an exception
    assert bad.problem and bad.problem.startswith("The chat was not kept for a reload")


def test_a_restore_waits_for_the_stopped_answer_then_marks_what_is_left(tmp_path: Path) -> None:
    db = str(tmp_path / "chat.db")
    copy = ChatCopy(db, "c2")
    streaming = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "Half", "status": "streaming", "record": None}]
    copy.save(streaming)
    final = [streaming[0], {"role": "assistant", "content": "Half an", "status": "cancelled", "record": {"status": "cancelled"}}]
    later = threading.Timer(0.3, copy.save, args=(final,))  # the session that streamed it writes its final copy as it stops
    later.start()
    msgs = load_settled(db, "c2", wait_s=10.0)
    later.join()
    assert msgs == final  # the stopped record, not the streaming copy it found first
    copy.save(streaming)  # never finished (that session died): shown as stopped, with the text it had
    msgs = load_settled(db, "c2", wait_s=0.2)
    assert msgs[1]["status"] == "cancelled" and msgs[1]["content"] == "Half"
