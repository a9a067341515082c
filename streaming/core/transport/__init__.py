"""Transports: move bytes and stamp each read with the clock before anything parses it."""

from __future__ import annotations

import ipaddress


def is_loopback(host: str) -> bool:
    """Whether ``host`` names this machine (localhost, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def transport_version(name: str) -> str:
    """The package that implements a transport, with its version: "httpx2 1.0.0", "streaming 0.9.0"."""
    from importlib import metadata

    if name == "wire":
        from streaming.version import __version__

        return f"streaming {__version__}"
    pkg = {"httpx": "httpx2", "sdk": "openai"}.get(name, name)
    try:
        return f"{pkg} {metadata.version(pkg)}"
    except metadata.PackageNotFoundError:
        return pkg
