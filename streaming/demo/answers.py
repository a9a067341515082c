"""What the demo says about an answer beyond its metrics: which API produced it, and whether it can be continued."""

from __future__ import annotations

from streaming.core.record import StreamRecord
from streaming.core.request import can_resume

LEGACY_COMPLETIONS = "Legacy completions API (`/v1/completions`): the system prompt and your last message as one prompt, no chat history."


def api_label(rec: StreamRecord) -> str | None:
    """A caption for answers not from the chat API (today: the legacy completions API), else None."""
    return LEGACY_COMPLETIONS if rec.api == "completions" else None


def replay_caption(rec: StreamRecord) -> str | None:
    """The caption of a replayed answer: recorded timings, not a live measurement."""
    if not rec.replay_of or not rec.text:  # nothing was replayed (e.g. the recording is missing): the error says why
        return None
    return f"{rec.replay_of[0].upper()}{rec.replay_of[1:]}: the recorded answer at its recorded timings, not a live measurement."


def can_continue(rec: StreamRecord) -> bool:
    """Continue is offered under an answer that broke off (dropped, stalled) or that the user stopped, when it has text."""
    return can_resume(rec) or (rec.status == "cancelled" and bool(rec.text))


def continued_caption(rec: StreamRecord) -> str | None:
    """The caption of a resumed answer, shown as soon as it ends (not one rerun later)."""
    return f"Continued from the interrupted answer above (linked attempt; resumes {rec.resume_of})." if rec.resume_of else None
