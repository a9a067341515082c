"""Benchmark settings from outside Python: a ``bench.toml`` (or its ``[bench]`` table), and the CLI's comma lists."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from streaming.bench import prompts as P
from streaming.bench.matrix import BenchConfig
from streaming.core.config import (
    parse_deployment,
    read_toml,
)
from streaming.errors import ConfigError

# -- the config file ------------------------------------------------------------------------
_TOML_KEYS = {f.name for f in fields(BenchConfig)} | {"temperature", "duration", "ramp"}


def load_config(path: str | Path) -> BenchConfig:
    """A ``bench.toml``: the BenchConfig fields at top level or under ``[bench]``. Deployments may be
    names or inline tables (same schema as deployments.toml)."""
    p = Path(path)
    data = read_toml(p, "--config")
    where = str(p)
    if "bench" in data and isinstance(data["bench"], Mapping):
        others = sorted(set(data) - {"bench"})
        if others:
            raise ConfigError(f"{p}: unknown top-level key(s) {others}; put every setting under [bench]")
        data, where = dict(data["bench"]), f"{p}: [bench]"
    return config_from_mapping(data, where)


def config_from_mapping(data: Mapping[str, Any], where: str = "bench") -> BenchConfig:
    unknown = set(data) - _TOML_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; allowed: {sorted(_TOML_KEYS)}")
    kw: dict[str, Any] = dict(data)
    if "temperature" in kw:
        kw["temperatures"] = kw.pop("temperature")
    if "duration" in kw:
        kw["duration_s"] = kw.pop("duration")
    if "ramp" in kw:
        kw["ramp_s"] = kw.pop("ramp")
    try:
        return _config_from_mapping(kw, where)
    except ConfigError as e:  # name the file (and table) in every message, once
        msg = str(e)
        if msg.startswith("bench: "):
            msg = msg[len("bench: ") :]
        raise ConfigError(msg if msg.startswith(where) else f"{where}: {msg}") from None


def _config_from_mapping(kw: dict[str, Any], where: str) -> BenchConfig:
    if "temperatures" in kw:
        t = kw["temperatures"]
        kw["temperatures"] = parse_temperatures(t if isinstance(t, str) else ",".join(str(x) for x in (t if isinstance(t, list) else [t])),
                                                f"{where}: temperatures")  # fmt: skip
    if "deployments" in kw:
        deps = kw["deployments"] if isinstance(kw["deployments"], list) else [kw["deployments"]]
        kw["deployments"] = [parse_deployment(d, f"{where}: deployments[{i}]") if isinstance(d, Mapping) else d for i, d in enumerate(deps)]
    if "prompts" in kw:
        if not isinstance(kw["prompts"], list):
            raise ConfigError(f"{where}: field 'prompts' must be a list of strings or tables")
        kw["prompts"] = [P.from_value(v, f"{where}: prompts[{i}]", f"prompt-{i + 1}") for i, v in enumerate(kw["prompts"])]
    if "headers" in kw and not isinstance(kw["headers"], Mapping):
        raise ConfigError(f"{where}: field 'headers' must be a table")
    cfg = BenchConfig(**kw)
    cfg.validate()
    return cfg


def parse_choices(text: str, flag: str, allowed: Sequence[str], default_word: bool = False) -> list[Any]:
    """"chat,responses" → ["chat", "responses"]; with ``default_word``, "default" → None (the deployment's). A ConfigError names the flag."""
    out: list[Any] = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        if default_word and part in ("default", "none"):
            out.append(None)
        elif part in allowed:
            out.append(part)
        else:
            raise ConfigError(f"{flag}: {part!r} is not one of {list(allowed)}" + (" or 'default'" if default_word else ""))
    if not out:
        raise ConfigError(f"{flag}: give at least one value, e.g. {flag} {','.join(allowed[:2])}")
    return out


def parse_temperatures(text: str, name: str = "--temperature") -> list[float | None]:
    """"0,0.7,1.0" → [0.0, 0.7, 1.0]; "default" (or "none") → None (the server's default).

    ``name`` is what the user typed into, for the error's sentence: the CLI's flag, or a page's field label.
    """
    example = f"e.g. {name} 0,0.7" if name.startswith("-") else "e.g. 0, 0.7 (comma-separated), or 'default'"
    out: list[float | None] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part.lower() in ("default", "none"):
            out.append(None)
            continue
        try:
            v = float(part)
        except ValueError:
            raise ConfigError(f"{name}: {part!r} is not a temperature; write numbers from 0 to 2 or 'default', {example}") from None
        if not 0 <= v <= 2:
            raise ConfigError(f"{name}: {v:g} is outside 0 to 2; write numbers from 0 to 2 or 'default', {example}")
        out.append(v)
    if not out:
        raise ConfigError(f"{name}: give at least one temperature, {example}")
    return out


def parse_headers(values: list[str] | None) -> dict[str, str]:
    """``--header 'NAME: VALUE'`` (repeatable) as a table; a ConfigError naming the bad one."""
    out: dict[str, str] = {}
    for h in values or []:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise ConfigError(f"--header {h!r}: write it as 'NAME: VALUE'")
        out[name.strip()] = value.strip()
    return out
