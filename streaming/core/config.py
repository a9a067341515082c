"""Deployments: the built-ins, and ``deployments.toml`` validated by pydantic models.

A deployment is everything needed to send one request: where (URL), what (model or
Azure deployment name) and how (the *name* of the variable holding its key; keys are
resolved at request time by ``core.auth`` and never stored here).

Each ``[[deployments]]`` table is one of six models, chosen by its ``provider``
(a discriminated union); every error names the file, the entry and the field, in one
sentence (``describe_error``), e.g. ``deployments.toml: deployments[0] ('x'): field
'endpoint' is missing (required for provider 'azure')``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import tomllib
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    model_validator,
)

from streaming.core.validation import ALLOWED_FIELDS, PROVIDERS, validated
from streaming.errors import ConfigError

BUILTIN_PROVIDERS = ("local", "simulated", "replay")  # served by the built-in server on loopback
DEFAULT_DEPLOYMENTS_FILE = "deployments.toml"
DEFAULT_AZURE_API_VERSION = "2024-10-21"
LOCAL_MODEL = "gemma-3-270m"
FAULT_KINDS = (
    "429", "500", "503", "reset", "drop", "stall", "slow_headers",
    "malformed", "azure_annotations", "content_filter", "error_event",
)  # fmt: skip
STRICT = ConfigDict(extra="forbid", strict=True, frozen=True)
APIS = ("chat", "responses", "completions")
REASONING_EFFORTS = ("minimal", "low", "medium", "high")
REASONING_SUMMARIES = ("auto", "none")
EFFORT_SCALE = {"minimal": 0.1, "low": 0.5, "medium": 1.0, "high": 2.0}  # a simulated reasoning model's tokens per effort, x its profile's


def _http_url(v: str) -> str:
    if not v.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return v


HttpUrl = Annotated[str, AfterValidator(_http_url)]


def _metrics_url(v: str) -> str:
    if v and not v.startswith(("http://", "https://")):
        raise ValueError('must be an http:// or https:// URL of a Prometheus /metrics page, or "" to scrape nothing')
    return v


MetricsUrl = Annotated[str, AfterValidator(_metrics_url)]  # "" turns the default (the server's /metrics) off
Text = Annotated[str, Field(min_length=1)]
Price = Annotated[float, Field(ge=0, strict=False)]  # 2.5 or 10 (a TOML integer is fine)


class Fault(BaseModel):
    """A fault a simulated deployment injects: every ``every``-th request, or with ``probability``."""

    model_config = STRICT
    kind: Literal[FAULT_KINDS]  # type: ignore[valid-type]
    probability: Annotated[float, Field(ge=0, le=1)] = 0.0
    every: Annotated[int, Field(ge=0)] = 0
    after_tokens: Annotated[int, Field(ge=0)] = 5
    seconds: Annotated[float, Field(ge=0)] = 2.0

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: Any, where: str = "fault") -> Fault:
        """A fault from a mapping (a TOML table, the ``x-sim-fault`` header), or a ConfigError naming the field."""
        return validated(cls, data, where)


class SimProfile(BaseModel):
    """The declared latency profile of a simulated deployment."""

    model_config = STRICT
    ttft_ms: Annotated[float, Field(ge=0)] = 200.0
    tokens_per_s: Annotated[float, Field(gt=0)] = 100.0
    jitter: Annotated[float, Field(ge=0)] = 0.0
    output_tokens: Annotated[int, Field(ge=1)] = 120
    faults: Annotated[tuple[Fault, ...], Field(strict=False)] = ()  # a TOML list is fine; each fault is strict
    reasoning_tokens: Annotated[int, Field(ge=0)] = 0  # > 0: a reasoning model, thinking this long (medium effort) after ttft_ms; refuses max_tokens, temperature != 1
    reasoning_tokens_per_s: Annotated[float, Field(gt=0)] = 300.0
    reasoning_content: bool = False  # also stream the thinking as chat ``delta.reasoning_content`` (as vLLM/DeepSeek do)
    capacity: Annotated[int, Field(ge=0)] = 0  # streams served at full speed at once; the rest queue (0: no limit)
    queue_timeout_s: Annotated[float, Field(gt=0)] = 30.0  # a request queued longer than this gets a 429

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: Any, where: str = "profile") -> SimProfile:
        """A profile from a mapping (e.g. the ``x-sim-profile`` header), or a ConfigError naming the field."""
        return validated(cls, data, where)


# -- the deployments.toml schema: one model per provider ---------------------------------------
class _Entry(BaseModel):
    model_config = STRICT
    name: Text
    description: str = ""
    api: Literal[APIS] = "chat"  # type: ignore[valid-type]
    reasoning: bool = False
    reasoning_effort: Literal[REASONING_EFFORTS] | None = None  # type: ignore[valid-type]
    reasoning_summary: Literal[REASONING_SUMMARIES] | None = None  # type: ignore[valid-type]
    price_in_per_1m: Price | None = None  # USD per million input tokens: the cost guard's estimate (core.cost)
    price_out_per_1m: Price | None = None
    metrics_url: MetricsUrl | None = None  # Prometheus text scraped during runs (bench.scrape); None: the default for the provider
    default_max_tokens: Annotated[int, Field(ge=1, le=32768)] | None = None  # the budget a new request starts with


class AzureEntry(_Entry):
    provider: Literal["azure"]
    endpoint: HttpUrl
    deployment: Text
    api_version: str = DEFAULT_AZURE_API_VERSION
    api_key_env: str = "AZURE_OPENAI_API_KEY"
    auth: Literal["key", "entra"] = "key"
    model: str | None = None


class OpenAIEntry(_Entry):
    provider: Literal["openai"]
    model: Text
    base_url: HttpUrl = "https://api.openai.com/v1"
    api_key_env: str = "OPENAI_API_KEY"


class CompatibleEntry(_Entry):
    provider: Literal["compatible"]
    base_url: HttpUrl
    model: Text
    api_key_env: str | None = None


class LocalEntry(_Entry):
    provider: Literal["local"]
    model: str = LOCAL_MODEL


class SimulatedEntry(SimProfile, _Entry):
    provider: Literal["simulated"]
    model: str | None = None


class ReplayEntry(_Entry):
    """A recorded run replayed by the built-in server: ``run`` (a run id), ``deployment`` (its latest run), or both."""

    provider: Literal["replay"]
    api: Literal[APIS] | None = None  # type: ignore[valid-type]  # None: the recording's
    reasoning: bool | None = None  # None: the recording's (a replay of a reasoning model behaves as one)
    run: Text | None = None
    deployment: Text | None = None  # the *recorded* deployment's name
    db: Text | None = None  # the results database (default: $STREAMING_DB, else ./data/streaming.db)

    @model_validator(mode="after")
    def _names_a_recording(self) -> ReplayEntry:
        if self.run is None and self.deployment is None:
            raise ValueError('give run = "RUN_ID" or deployment = "NAME" (a deployment recorded in the results database)')
        return self


Entry = Annotated[AzureEntry | OpenAIEntry | CompatibleEntry | LocalEntry | SimulatedEntry | ReplayEntry, Field(discriminator="provider")]
_ENTRY = TypeAdapter(Entry)
_PROFILE_FIELDS = tuple(SimProfile.model_fields)


ALLOWED_FIELDS.update({e.model_fields["provider"].annotation.__args__[0]: sorted(e.model_fields)  # type: ignore[union-attr]
                       for e in (AzureEntry, OpenAIEntry, CompatibleEntry, LocalEntry, SimulatedEntry, ReplayEntry)})


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
    api: str = "chat"  # chat | responses | completions: the API a request uses unless it names one
    reasoning: bool = False  # a reasoning model: max_completion_tokens / max_output_tokens, reasoning effort, no temperature
    reasoning_effort: str | None = None  # minimal | low | medium | high
    reasoning_summary: str | None = None  # auto | none (Responses API; default auto for reasoning deployments)
    price_in_per_1m: float | None = None
    price_out_per_1m: float | None = None
    replay_run: str | None = None  # provider "replay": the recorded run, or the recorded deployment (its latest run)
    replay_of: str | None = None
    replay_db: str | None = None
    replay_label: str = ""  # "replay of gpt-4o (Azure, recorded 2026-11-20)", filled in from the database (store.recordings)
    replay_problem: str = ""  # why it cannot be played (no such run, …), filled in likewise
    replay_inherits: tuple[str, ...] = ()  # fields the file left out, taken from the recording ("api", "reasoning")
    metrics_url: str | None = None  # the server's Prometheus metrics (None: its default, see bench.scrape; "": none)
    default_max_tokens: int | None = None  # the max tokens a request starts with when none is given (None: the caller's default)

    @property
    def builtin(self) -> bool:
        """Served by our own server on loopback."""
        return self.provider in BUILTIN_PROVIDERS

    @property
    def spends_key(self) -> bool:
        """Reaching it spends someone's key or token: a non-built-in deployment with a key variable or Entra ID."""
        return not self.builtin and (bool(self.api_key_env) or self.auth == "entra")

    @property
    def label(self) -> str:
        if self.provider == "replay":
            return f"{self.name} — {'replay (not playable)' if self.replay_problem else self.replay_text}"
        tag = {"simulated": " (simulated)", "local": " (local model)"}.get(self.provider, "")
        return f"{self.name}{tag}"

    def max_tokens_default(self, fallback: int = 256) -> int:
        """The budget a request on this deployment starts with: its own default, else 1024 for a reasoning model (room to think), else ``fallback``."""
        return self.default_max_tokens or (1024 if self.reasoning else fallback)

    @property
    def replay_text(self) -> str:
        """A replay's label from the database, else what its entry names: ``replay of gpt-4o`` (``run …``)."""
        return self.replay_label or f"replay of {self.replay_of or 'run ' + str(self.replay_run)}"

    @property
    def azure_v1(self) -> bool:
        """Azure's v1 API (``/openai/v1/...``, ``model`` in the body): always for Responses, and for ``api_version = "v1"``."""
        return self.provider == "azure" and self.api_version == "v1"

    def url(self, api: str, server_url: str | None = None) -> str:
        """The full URL for ``api`` ("chat", "responses" or "completions")."""
        path = {"chat": "chat/completions", "responses": "responses"}.get(api, "completions")
        if self.provider == "azure":
            endpoint = (self.endpoint or "").rstrip("/")
            if api == "responses" or self.azure_v1:
                return f"{endpoint}/openai/v1/{path}"
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
        description="Gemma 3 270M (base model, Q4_K_M) run by llama.cpp on this machine, in a Question/Answer frame: real tokens, real timings, short and poor answers.",
        default_max_tokens=160,
    ),
    Deployment(
        name="sim-fast",
        provider="simulated",
        model="sim-fast",
        sim=SimProfile(ttft_ms=200, tokens_per_s=100, jitter=0.1, output_tokens=120),
        description="Simulated: about 200 ms TTFT, 100 tokens/s.",
        default_max_tokens=256,
    ),
    Deployment(
        name="sim-slow",
        provider="simulated",
        model="sim-slow",
        sim=SimProfile(ttft_ms=800, tokens_per_s=25, jitter=0.1, output_tokens=80),
        description="Simulated: about 800 ms TTFT, 25 tokens/s.",
        default_max_tokens=256,
    ),
    Deployment(
        name="sim-turbo",
        provider="simulated",
        model="sim-turbo",
        sim=SimProfile(ttft_ms=150, tokens_per_s=200, jitter=0.05, output_tokens=200),
        description="Simulated: about 150 ms TTFT, 200 tokens/s.",
        default_max_tokens=320,
    ),
    Deployment(
        name="sim-reasoning",
        provider="simulated",
        model="sim-reasoning",
        sim=SimProfile(ttft_ms=150, tokens_per_s=120, jitter=0.1, output_tokens=80, reasoning_tokens=120, reasoning_tokens_per_s=400, reasoning_content=True),
        description="Simulated reasoning model: about 150 ms to start, 120 reasoning tokens at 400/s (medium effort), then 120 tokens/s.",
        reasoning=True,
        reasoning_effort="medium",
        default_max_tokens=1024,
    ),
    Deployment(
        name="sim-reasoning-slow",
        provider="simulated",
        model="sim-reasoning-slow",
        sim=SimProfile(ttft_ms=400, tokens_per_s=40, jitter=0.1, output_tokens=60, reasoning_tokens=600, reasoning_tokens_per_s=300, reasoning_content=True),
        description="Simulated slow reasoning model: about 400 ms to start, 600 reasoning tokens at 300/s (medium effort), then 40 tokens/s.",
        api="responses",
        reasoning=True,
        reasoning_effort="medium",
        default_max_tokens=2048,
    ),
    Deployment(
        name="sim-ptu",
        provider="simulated",
        model="sim-ptu",
        sim=SimProfile(ttft_ms=250, tokens_per_s=50, jitter=0.05, output_tokens=60, capacity=4, queue_timeout_s=5.0),
        description="Simulated: about 250 ms TTFT, 50 tokens/s, serves 4 streams at once (the rest queue; a 429 after 5 s).",
        default_max_tokens=128,
    ),
)


def parse_deployment(entry: Any, where: str) -> Deployment:
    """One ``[[deployments]]`` table → a ``Deployment``, or a ``ConfigError`` naming the entry and the field."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where} must be a table")
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: field 'name' is missing or empty (e.g. name = \"gpt-4o-eastus\")")
    where = f"{where} ('{name}')"
    provider = entry.get("provider")
    e = validated(_ENTRY, dict(entry), where, provider if provider in PROVIDERS else None)
    kw = e.model_dump(exclude={*_PROFILE_FIELDS} if e.provider == "simulated" else set())
    if e.provider == "azure":
        kw["model"] = e.model or e.deployment
    elif e.provider == "simulated":
        kw["model"] = e.model or e.name
        kw["sim"] = SimProfile(**{f: getattr(e, f) for f in _PROFILE_FIELDS})
    elif e.provider == "replay":
        kw = {k: v for k, v in kw.items() if k not in ("run", "deployment", "db")}
        inherits = tuple(f for f in ("api", "reasoning") if kw[f] is None)
        kw.update(model=e.name, replay_run=e.run, replay_of=e.deployment, replay_db=e.db, replay_inherits=inherits,
                  api=kw["api"] or "chat", reasoning=bool(kw["reasoning"]))  # fmt: skip
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
    entries = data.get("deployments", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{p}: 'deployments' must be a list of [[deployments]] tables, got {type(entries).__name__}")
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
