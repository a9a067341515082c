"""Deployments: the built-ins, ``deployments.toml``, and how to authenticate to each.

A deployment is everything needed to send one request: where (URL), what
(model or Azure deployment name) and how (key from an environment variable or
Streamlit secrets, or an Entra token). Keys are looked up when a request is
about to be built and are never stored on the ``Deployment`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import tomllib

from streaming.errors import ConfigError

PROVIDERS = ("azure", "openai", "compatible", "local", "simulated")


BUILTIN_PROVIDERS = ("local", "simulated")


DEFAULT_DEPLOYMENTS_FILE = "deployments.toml"


DEFAULT_AZURE_API_VERSION = "2024-10-21"


LOCAL_MODEL = "gemma-3-270m"


FAULT_KINDS = (
    "429", "500", "503", "reset", "drop", "stall", "slow_headers",
    "malformed", "azure_annotations", "content_filter", "error_event",
)  # fmt: skip


@dataclass(frozen=True)
class Fault:
    """A fault a simulated deployment injects: every ``every``-th request, or with ``probability``."""

    kind: str
    probability: float = 0.0
    every: int = 0
    after_tokens: int = 5
    seconds: float = 2.0

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class SimProfile:
    """The declared latency profile of a simulated deployment."""

    ttft_ms: float = 200.0
    tokens_per_s: float = 100.0
    jitter: float = 0.0
    output_tokens: int = 120
    faults: tuple[Fault, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "faults"}
        d["faults"] = [f.to_dict() for f in self.faults]
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "profile") -> SimProfile:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(known)}")
        kw: dict[str, Any] = {}
        for name in ("ttft_ms", "tokens_per_s", "jitter"):
            if name in data:
                kw[name] = _number(data[name], f"{where}: field '{name}'", minimum=0.0)
        if "tokens_per_s" in kw and kw["tokens_per_s"] <= 0:
            raise ConfigError(f"{where}: field 'tokens_per_s' must be > 0, got {kw['tokens_per_s']}")
        if "output_tokens" in data:
            kw["output_tokens"] = int(_number(data["output_tokens"], f"{where}: field 'output_tokens'", minimum=1, integer=True))
        if "faults" in data:
            kw["faults"] = tuple(_fault(f, f"{where}: faults[{i}]") for i, f in enumerate(_list(data["faults"], f"{where}: field 'faults'")))
        return cls(**kw)


@dataclass(frozen=True)
class Deployment:
    """Where and how to send a request. Holds the *name* of the key's variable, never the key."""

    name: str
    provider: str
    model: str = ""
    base_url: str | None = None
    endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    api_key_env: str | None = None
    auth: str = "key"
    sim: SimProfile | None = None
    description: str = ""
    source: str = "built-in"

    @property
    def builtin(self) -> bool:
        """Served by our own server on loopback."""
        return self.provider in BUILTIN_PROVIDERS

    @property
    def label(self) -> str:
        tag = {"simulated": " (simulated)", "local": " (local model)"}.get(self.provider, "")
        return f"{self.name}{tag}"

    def url(self, api: str, server_url: str | None = None) -> str:
        """The full URL for ``api`` ("chat" or "completions")."""
        path = "chat/completions" if api == "chat" else "completions"
        if self.provider == "azure":
            endpoint = (self.endpoint or "").rstrip("/")
            return f"{endpoint}/openai/deployments/{self.deployment}/{path}?api-version={self.api_version}"
        if self.builtin:
            if not server_url:
                raise ConfigError(f"deployment '{self.name}': the built-in server is not running")
            return f"{server_url.rstrip('/')}/v1/{path}"
        return f"{(self.base_url or '').rstrip('/')}/{path}"

    def public_dict(self) -> dict[str, Any]:
        """What may be shown or stored: no keys, only the variable's name."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sim"}
        if self.sim is not None:
            d["sim"] = self.sim.to_dict()
        return {k: v for k, v in d.items() if v not in (None, "")}


BUILTINS: tuple[Deployment, ...] = (
    Deployment(
        name="local",
        provider="local",
        model=LOCAL_MODEL,
        description="Gemma 3 270M (base model, Q4_K_M) run by llama.cpp on this machine: real tokens, real timings, poor answers.",
    ),
    Deployment(
        name="sim-fast",
        provider="simulated",
        model="sim-fast",
        sim=SimProfile(ttft_ms=200, tokens_per_s=100, jitter=0.1, output_tokens=120),
        description="Simulated: about 200 ms TTFT, 100 tokens/s.",
    ),
    Deployment(
        name="sim-slow",
        provider="simulated",
        model="sim-slow",
        sim=SimProfile(ttft_ms=800, tokens_per_s=25, jitter=0.1, output_tokens=80),
        description="Simulated: about 800 ms TTFT, 25 tokens/s.",
    ),
    Deployment(
        name="sim-turbo",
        provider="simulated",
        model="sim-turbo",
        sim=SimProfile(ttft_ms=150, tokens_per_s=200, jitter=0.05, output_tokens=200),
        description="Simulated: about 150 ms TTFT, 200 tokens/s.",
    ),
)


_ALLOWED = {
    "azure": {"name", "provider", "endpoint", "deployment", "api_version", "api_key_env", "auth", "model", "description"},
    "openai": {"name", "provider", "model", "base_url", "api_key_env", "description"},
    "compatible": {"name", "provider", "model", "base_url", "api_key_env", "description"},
    "local": {"name", "provider", "model", "description"},
    "simulated": {"name", "provider", "model", "description"} | {f.name for f in fields(SimProfile)},
}


_REQUIRED = {"azure": ("endpoint", "deployment"), "openai": ("model",), "compatible": ("base_url", "model")}


def _number(value: Any, what: str, minimum: float | None = None, integer: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{what} must be a number, got {value!r}")
    if integer and not float(value).is_integer():
        raise ConfigError(f"{what} must be a whole number, got {value!r}")
    if minimum is not None and value < minimum:
        raise ConfigError(f"{what} must be ≥ {minimum}, got {value!r}")
    return float(value)


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"{what} must be a list, got {type(value).__name__}")
    return value


def _fault(data: Any, where: str) -> Fault:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where} must be a table like {{kind = \"429\", probability = 0.1}}")
    known = {f.name for f in fields(Fault)}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: {sorted(known)}")
    kind = str(data.get("kind", ""))
    if kind not in FAULT_KINDS:
        raise ConfigError(f"{where}: field 'kind' must be one of {list(FAULT_KINDS)}, got {kind!r}")
    prob = _number(data.get("probability", 0.0), f"{where}: field 'probability'", minimum=0.0)
    if prob > 1:
        raise ConfigError(f"{where}: field 'probability' must be between 0 and 1, got {prob}")
    every = int(_number(data.get("every", 0), f"{where}: field 'every'", minimum=0, integer=True))
    after = int(_number(data.get("after_tokens", 5), f"{where}: field 'after_tokens'", minimum=0, integer=True))
    secs = _number(data.get("seconds", 2.0), f"{where}: field 'seconds'", minimum=0.0)
    return Fault(kind=kind, probability=prob, every=every, after_tokens=after, seconds=secs)


def _check_url(value: Any, where: str, fld: str) -> str:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where}: field '{fld}' must be an http:// or https:// URL, got {value!r}")
    return value


def parse_deployment(entry: Any, where: str) -> Deployment:
    """One ``[[deployments]]`` table → a ``Deployment``, or a ``ConfigError`` naming the field."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: field 'name' is missing or empty (e.g. name = \"gpt-4o-eastus\")")
    where = f"{where} ('{name}')"
    provider = entry.get("provider")
    if provider not in PROVIDERS:
        raise ConfigError(f"{where}: field 'provider' must be one of {list(PROVIDERS)}, got {provider!r}")
    unknown = set(entry) - _ALLOWED[provider]
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {sorted(unknown)} for provider '{provider}'; allowed: {sorted(_ALLOWED[provider])}")
    for fld in _REQUIRED.get(provider, ()):
        if not entry.get(fld):
            raise ConfigError(f"{where}: field '{fld}' is missing (required for provider '{provider}')")
    for fld, value in entry.items():
        if fld in ("name", "provider", "endpoint", "deployment", "api_version", "api_key_env", "auth", "model", "base_url", "description"):
            if not isinstance(value, str):
                raise ConfigError(f"{where}: field '{fld}' must be a string, got {value!r}")
    kw: dict[str, Any] = {"name": name, "provider": provider, "description": entry.get("description", "")}
    if provider == "azure":
        kw["endpoint"] = _check_url(entry["endpoint"], where, "endpoint")
        kw["deployment"] = entry["deployment"]
        kw["model"] = entry.get("model", entry["deployment"])
        kw["api_version"] = entry.get("api_version", DEFAULT_AZURE_API_VERSION)
        auth = entry.get("auth", "key")
        if auth not in ("key", "entra"):
            raise ConfigError(f"{where}: field 'auth' must be \"key\" or \"entra\", got {auth!r}")
        kw["auth"] = auth
        kw["api_key_env"] = entry.get("api_key_env", "AZURE_OPENAI_API_KEY")
    elif provider == "openai":
        kw["model"] = entry["model"]
        kw["base_url"] = _check_url(entry.get("base_url", "https://api.openai.com/v1"), where, "base_url")
        kw["api_key_env"] = entry.get("api_key_env", "OPENAI_API_KEY")
    elif provider == "compatible":
        kw["model"] = entry["model"]
        kw["base_url"] = _check_url(entry["base_url"], where, "base_url")
        kw["api_key_env"] = entry.get("api_key_env")
    elif provider == "local":
        kw["model"] = entry.get("model", LOCAL_MODEL)
    else:
        kw["model"] = entry.get("model", name)
        kw["sim"] = SimProfile.from_dict({k: v for k, v in entry.items() if k not in _ALLOWED["local"]}, where)
    return Deployment(**kw)


def read_toml(p: Path, flag: str) -> dict[str, Any]:
    """A TOML file's data, or a ConfigError naming the file (and the flag that gives it)."""
    if not p.is_file():
        raise ConfigError(f"{p}: file not found (give an existing file with {flag})")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: not valid TOML: {e}") from None


def load_deployments(path: str | os.PathLike[str] | None = None) -> list[Deployment]:
    """The built-ins, then the deployments of ``path`` (or ``./deployments.toml`` when present)."""
    out = list(BUILTINS)
    if path is None:
        default = Path(DEFAULT_DEPLOYMENTS_FILE)
        if not default.is_file():
            return out
        path = default
    p = Path(path)
    data = read_toml(p, "--deployments")
    unknown = set(data) - {"deployments"}
    if unknown:
        raise ConfigError(f"{p}: unknown top-level key(s) {sorted(unknown)}; expected [[deployments]] tables")
    entries = _list(data.get("deployments", []), f"{p}: 'deployments'")
    names = {d.name for d in out}
    for i, entry in enumerate(entries):
        dep = replace(parse_deployment(entry, f"{p}: deployments[{i}]"), source=str(p))
        if dep.name in names:
            raise ConfigError(f"{p}: deployments[{i}]: field 'name': '{dep.name}' is already defined; names must be unique")
        names.add(dep.name)
        out.append(dep)
    return out


def find_deployment(deployments: list[Deployment], name: str) -> Deployment:
    for d in deployments:
        if d.name == name:
            return d
    raise ConfigError(f"unknown deployment '{name}'; known: {', '.join(d.name for d in deployments)}")
