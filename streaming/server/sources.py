"""What the built-in server's routes share besides the app: the fault to inject, and a prompt's approximate size."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import HTTPException

from streaming.core.config import Fault, SimProfile
from streaming.server.models import (
    CommonRequest,
)

log = logging.getLogger("streaming.server")

def pick_fault(state: Any, model: str, profile: SimProfile, header: str | None) -> Fault | None:
    if header:
        try:
            data = orjson.loads(header) if header.lstrip().startswith("{") else {"kind": header.strip()}
            return Fault.from_dict(data, "x-sim-fault header")
        except Exception as e:
            raise HTTPException(status_code=400, detail=f"header 'x-sim-fault': {e}") from None
    n = state.counts[model]
    for f in profile.faults:
        if (f.every and n % f.every == 0) or (f.probability and state.rng.random() < f.probability):
            return f
    return None


def approx_tokens(body: CommonRequest, api: str) -> int:
    if api == "chat":
        text = " ".join(str(m.content or "") for m in body.messages)  # type: ignore[attr-defined]
    elif api == "responses":
        given = body.input  # type: ignore[attr-defined]
        text = given if isinstance(given, str) else " ".join(str(m.content or "") for m in given)
    else:
        text = body.prompt  # type: ignore[attr-defined]
    return max(1, len(text.split()))
