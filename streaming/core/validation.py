"""pydantic errors as one sentence that names the field, for deployments.toml, bench.toml and the server's headers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError

from streaming.errors import ConfigError

PROVIDERS = ("azure", "openai", "compatible", "local", "simulated", "replay")
ALLOWED_FIELDS: dict[str, list[str]] = {}  # provider -> its fields, filled in by core.config


def describe_error(err: Mapping[str, Any], provider: str | None = None) -> str:
    """One pydantic error as a sentence that names the field: ``field 'ttft_ms' must be a number, got 'fast'``."""
    loc = list(err.get("loc", ()))
    if loc and loc[0] in PROVIDERS:  # the discriminated union's tag
        loc = loc[1:]
    segs: list[str] = []
    for p in loc:
        if isinstance(p, int) and segs:
            segs[-1] += f"[{p}]"
        else:
            segs.append(str(p))
    name = segs[-1] if segs else "entry"
    where = ": ".join(segs[:-1]) + ": " if len(segs) > 1 else ""
    got, kind, ctx = err.get("input"), err.get("type", ""), err.get("ctx") or {}
    if kind == "missing":
        return f"{where}field '{name}' is missing" + (f" (required for provider '{provider}')" if provider else "")
    if kind == "extra_forbidden":
        allowed = f" for provider '{provider}'; allowed: {ALLOWED_FIELDS.get(provider, [])}" if provider and not where else ""
        return f"{where}unknown field(s) ['{name}']{allowed}"
    if kind == "union_tag_not_found":
        return f"{where}field 'provider' is missing; give one of {list(PROVIDERS)}"
    if kind == "union_tag_invalid":
        return f"{where}field 'provider' must be one of {list(PROVIDERS)}, got {ctx.get('tag')!r}"
    if kind == "literal_error":
        return f"{where}field '{name}' must be one of {ctx.get('expected', '')}, got {got!r}"
    if kind in ("int_type", "int_from_float", "int_parsing"):
        return f"{where}field '{name}' must be a whole number, got {got!r}"
    if kind in ("bool_type", "bool_parsing"):
        return f"{where}field '{name}' must be true or false, got {got!r}"
    if kind in ("float_type", "float_parsing"):
        return f"{where}field '{name}' must be a number, got {got!r}"
    if kind in ("string_type", "string_too_short"):
        return f"{where}field '{name}' must be a non-empty string, got {got!r}"
    if kind in ("tuple_type", "list_type"):
        return f"{where}field '{name}' must be a list, got {type(got).__name__}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        example = ', e.g. {kind = "429", probability = 0.1}' if name.startswith("faults") else ""
        return f"{where}{name} must be a table{example}, got {got!r}"
    if kind == "value_error" and not segs:  # a check of the whole entry (e.g. one of two fields is required)
        return str(err.get("msg", "")).removeprefix("Value error, ")
    if kind == "value_error":
        return f"{where}field '{name}': {str(err.get('msg', '')).removeprefix('Value error, ')}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": "≥", "less_than": "<", "less_than_equal": "≤"}[kind]
        return f"{where}field '{name}' must be {op} {next(iter(ctx.values()), '')}, got {got!r}"
    msg = str(err.get("msg", "is not valid")).removeprefix("Value error, ")
    return f"{where}field '{name}' {msg}, got {got!r}"


def validated(model: Any, data: Any, where: str, provider: str | None = None) -> Any:
    """``model`` validated from ``data``; a ConfigError with one sentence naming ``where`` and the field."""
    try:
        adapter = model if isinstance(model, TypeAdapter) else TypeAdapter(model)
        return adapter.validate_python(data)
    except ValidationError as e:
        raise ConfigError(f"{where}: {describe_error(e.errors()[0], provider)}") from None
