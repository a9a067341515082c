"""OpenAI-shaped error bodies, shared by the API routes and the SSE relay."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse


def error_response(status: int, message: str, etype: str = "invalid_request_error", param: str | None = None,
                   headers: dict[str, str] | None = None, code: str | None = None) -> JSONResponse:  # fmt: skip
    """``{"error": {"message", "type", "param", "code"}}`` with ``status``."""
    return JSONResponse({"error": {"message": message, "type": etype, "param": param, "code": code}}, status_code=status, headers=headers)


def validation_error_response(errors: Sequence[Any]) -> JSONResponse:
    """422 naming the first invalid field (pydantic's ``loc`` without the leading ``body``)."""
    first = errors[0] if errors else {}
    field = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or "body"
    msg = first.get("msg", "invalid request")
    if first.get("type") == "json_invalid":
        field, msg = "body", "the body is not valid JSON"
    return error_response(422, f"field '{field}': {msg}", param=field)
