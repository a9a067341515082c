"""Keys and tokens: one resolver for every surface (app, CLI, bench, relay, Benchmark page), never stored or shown.

Order: the environment variable, then Streamlit's secrets file (``.streamlit/secrets.toml`` in the working
directory, else ``~/.streamlit/secrets.toml``). The app passes ``st.secrets``, which reads the same file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from streaming.core.config import Deployment
from streaming.errors import ConfigError


@dataclass
class Credentials:
    """Resolves a deployment's auth header at request time. Never printed: its repr hides values."""

    secrets: Mapping[str, Any] = field(default_factory=lambda: FileSecrets(), repr=False)
    token_providers: dict[str, Callable[[], str]] = field(default_factory=dict, repr=False)

    def lookup(self, var: str) -> str | None:
        value = os.environ.get(var)
        if value:
            return value
        try:
            value = self.secrets.get(var)  # Streamlit secrets or any mapping
        except Exception:  # a missing secrets file raises on access; treat it as absent
            value = None
        return str(value) if value else None

    def headers(self, dep: Deployment) -> dict[str, str]:
        """Auth headers for ``dep``; ConfigError naming the variable when a key is missing."""
        if dep.builtin:
            key = self.lookup("STREAMING_SERVER_API_KEY") or server_token()
            return {"Authorization": f"Bearer {key}"} if key else {}
        if dep.provider == "azure" and dep.auth == "entra":
            provider = self.token_providers.get(dep.name)
            if provider is None:
                provider = _entra_token_provider(dep)
                self.token_providers[dep.name] = provider
            return {"Authorization": f"Bearer {provider()}"}
        if not dep.api_key_env:
            return {}
        key = self.lookup(dep.api_key_env)
        if not key:
            raise ConfigError(
                f"deployment '{dep.name}': field 'api_key_env': {dep.api_key_env} is not set in the environment "
                f"nor in .streamlit/secrets.toml (set one of them)"
            )
        return {"api-key": key} if dep.provider == "azure" else {"Authorization": f"Bearer {key}"}


_server_token: list[str | None] = [None]  # the token of the built-in server this process started (never stored or shown)


def use_server_token(token: str | None) -> None:
    """Send ``token`` to the built-in server from now on (called by whoever starts the server)."""
    _server_token[0] = token


def server_token() -> str | None:
    """The token of the built-in server this process started, if any."""
    return _server_token[0]


SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")
ENV_SECRETS_FILE = "STREAMING_SECRETS_FILE"  # a built-in server started elsewhere reads the secrets file its starter found


def secrets_file() -> tuple[dict[str, Any], str | None]:
    """Streamlit's secrets file as a mapping (``$STREAMING_SECRETS_FILE``, else the working directory's
    ``.streamlit/secrets.toml``, else the user's), and its path.

    An unreadable or invalid file reads as empty: a key missing from it is then reported by name.
    """
    named = os.environ.get(ENV_SECRETS_FILE)
    for p in ((Path(named),) if named else SECRETS_FILES):
        if p.is_file():
            try:
                return tomllib.loads(p.read_text(encoding="utf-8")), str(p)
            except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
                return {}, str(p)
    return {}, None


def _entra_token_provider(dep: Deployment) -> Callable[[], str]:
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:  # pragma: no cover - azure-identity is in requirements.txt
        raise ConfigError(f"deployment '{dep.name}': field 'auth' = \"entra\" needs the azure-identity package") from None
    return get_bearer_token_provider(DefaultAzureCredential(), "https://cognitiveservices.azure.com/.default")


class SafeSecrets(Mapping[str, Any]):
    """Wraps ``st.secrets`` (or any mapping) so a missing or broken secrets file reads as empty."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getitem__(self, key: str) -> Any:
        try:
            return self._inner[key]
        except KeyError:
            raise
        except Exception:  # no secrets file: Streamlit raises on any access
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def __iter__(self) -> Iterator[str]:
        try:
            return iter(list(self._inner))
        except Exception:
            return iter(())

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __repr__(self) -> str:
        return "SafeSecrets(<hidden>)"


class FileSecrets(Mapping[str, Any]):
    """Streamlit's secrets file (see ``secrets_file``), read on first use: the resolver's second source outside Streamlit."""

    def __init__(self) -> None:
        self._data: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            self._data = secrets_file()[0]
        return self._data

    def __getitem__(self, key: str) -> Any:
        return self._load()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __len__(self) -> int:
        return len(self._load())

    def __repr__(self) -> str:
        return "FileSecrets(<hidden>)"
