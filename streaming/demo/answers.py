"""What the demo says about an answer beyond its metrics: which API produced it (and which suit a deployment), and
whether it can be continued."""

from __future__ import annotations

from streaming.core.config import APIS, Deployment
from streaming.core.record import StreamRecord
from streaming.core.request import can_resume
from streaming.demo.format import status_word

LEGACY_COMPLETIONS = "Legacy completions API (`/v1/completions`): the system prompt and your last message as one prompt, no chat history."


def api_label(rec: StreamRecord) -> str | None:
    """A caption for answers not from the chat API (today: the legacy completions API), else None."""
    return LEGACY_COMPLETIONS if rec.api == "completions" else None


def suited_apis(dep: Deployment) -> tuple[str, ...]:
    """The APIs the sidebar offers for ``dep``, in ``APIS`` order, its own ``api`` always among them: a replay only its
    recording's; a reasoning model no legacy completions (it has no reasoning parameters); the base model and
    OpenAI-compatible servers no Responses unless configured so (few of them serve it)."""
    if dep.provider == "replay":
        return (dep.api,)
    if dep.reasoning:
        fits = {"chat", "responses"}
    elif dep.provider in ("local", "compatible"):
        fits = {"chat", "completions"}
    else:
        fits = set(APIS)
    return tuple(a for a in APIS if a in fits or a == dep.api)


def replay_caption(rec: StreamRecord) -> str | None:
    """The caption of a replayed answer: recorded timings, not a live measurement."""
    if not rec.replay_of or not rec.text:  # nothing was replayed (e.g. the recording is missing): the error says why
        return None
    return f"{rec.replay_of[0].upper()}{rec.replay_of[1:]}: the recorded answer at its recorded timings, not a live measurement."


def can_continue(rec: StreamRecord) -> bool:
    """Continue is offered under an answer that broke off (dropped, stalled) or that the user stopped, when it has text."""
    return can_resume(rec) or (rec.status == "cancelled" and bool(rec.text))


def continued_caption(resumes: str | None, previous_status: str | None) -> str | None:
    """The caption of a continued answer, shown from its start: it names how the answer above ended ("stopped" for a
    Stop, "interrupted" or "stalled" for a failure) and the attempt it resumes."""
    if not resumes:
        return None
    how = status_word(previous_status) if previous_status else "unfinished"
    return f"Continued from the {how} answer above (linked attempt; resumes {resumes})."
