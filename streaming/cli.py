"""``python -m streaming``: serve, chat (and the benchmark commands registered by their modules)."""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any

import orjson

from streaming.errors import StreamingError

# Modules that add subcommands: each has ``register(subparsers)``.
COMMAND_MODULES: list[str] = ["streaming.bench.cli", "streaming.doctor", "streaming.bench.sweep", "streaming.cli_inspect"]


def _float_arg(name: str, lo: float, hi: float) -> Callable[[str], float]:
    def parse(v: str) -> float:
        try:
            x = float(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, got {v!r}") from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be between {lo} and {hi}, got {x}")
        return x

    return parse


def _int_arg(name: str, lo: int, hi: int) -> Callable[[str], int]:
    def parse(v: str) -> int:
        try:
            x = int(v)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a whole number, got {v!r}") from None
        if not lo <= x <= hi:
            raise argparse.ArgumentTypeError(f"{name} must be between {lo} and {hi}, got {x}")
        return x

    return parse


CORE_COMMANDS = ("serve", "chat")  # defined here: running one of these loads no other command's module (pandas, scipy)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI; for ``command`` in CORE_COMMANDS only what it needs, so the server's subprocess starts light."""
    p = argparse.ArgumentParser(prog="python -m streaming", description="Streaming LLM Lab: stream, measure and benchmark LLM answers.")
    p.add_argument("--deployments", metavar="FILE", help="deployments file (default: ./deployments.toml when present)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the built-in OpenAI-compatible server (local model, simulated deployments, replays)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_int_arg("--port", 0, 65535), default=8765)
    s.add_argument("--api-key", help="require 'Authorization: Bearer KEY' on every route (or set STREAMING_SERVER_API_KEY)")
    s.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests whose Host is NAME (default: loopback names and --host only; DNS rebinding is refused)")
    s.add_argument("--exit-with-parent", type=int, metavar="PID", help=argparse.SUPPRESS)
    s.add_argument("--token-stdin", action="store_true", help=argparse.SUPPRESS)  # the launcher hands its per-start token on stdin
    s.add_argument("--preload", action="store_true", help="load the local model at start")
    s.add_argument("--log-level", default="warning")
    s.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (chain) file; needs --tls-key")
    s.add_argument("--tls-key", metavar="PEM", help="the certificate's private key file")
    s.set_defaults(func=cmd_serve)

    c = sub.add_parser("chat", help="stream one answer to stdout, then its metrics")
    c.add_argument("prompt", help="what to ask")
    c.add_argument("--deployment", "-d", default="local")
    c.add_argument("--temperature", "-t", type=_float_arg("--temperature", 0.0, 2.0), default=None)
    c.add_argument("--max-tokens", "-n", type=_int_arg("--max-tokens", 1, 32768), default=None,
                   help="the token budget (default: the deployment's; else 1024 for a reasoning model, 128 otherwise)")
    c.add_argument("--system", help="system prompt")
    c.add_argument("--no-stream", action="store_true", help="one non-streaming call: no TTFT, e2e is the perceived wait")
    c.add_argument("--completions", action="store_true", help="the legacy completions API instead of chat")
    c.add_argument("--api", choices=("chat", "responses", "completions"), help="the API to use (default: the deployment's, usually chat)")
    c.add_argument("--reasoning-effort", choices=("minimal", "low", "medium", "high"), help="reasoning effort (a reasoning model; default: the deployment's)")
    c.add_argument("--json", action="store_true", help="print only the record, as one JSON object")
    c.add_argument("--seed", type=int)
    c.set_defaults(func=cmd_chat)
    import importlib

    for name in COMMAND_MODULES if command not in CORE_COMMANDS else ():
        importlib.import_module(name).register(sub)
    return p


def _command_in(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names (its first word that is no option nor ``--deployments``' value), if any."""
    it = iter(argv)
    for word in it:
        if word == "--deployments":
            next(it, None)
        elif not word.startswith("-"):
            return word
    return None


def _recordings() -> Callable[[Any], Any]:
    """What the server's replays read: the results database, loaded (with pandas) on the first replay."""
    library: list[Any] = []

    def get(dep: Any) -> Any:
        if not library:
            from streaming.store.recordings import RecordingLibrary

            library.append(RecordingLibrary())
        return library[0].get(dep)

    return get


def cmd_serve(args: argparse.Namespace) -> int:
    from streaming.core.auth import Credentials
    from streaming.core.config import load_deployments
    from streaming.server.app import create_app
    from streaming.server.runner import serve

    key = args.api_key or Credentials().lookup("STREAMING_SERVER_API_KEY")  # environment, then .streamlit/secrets.toml
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not key:
        print(f"error: --host {args.host} is not a loopback address; refusing to serve without --api-key (or STREAMING_SERVER_API_KEY)", file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("error: --tls-cert and --tls-key go together (the certificate and its private key)", file=sys.stderr)
        return 2
    for flag, path in (("--tls-cert", args.tls_cert), ("--tls-key", args.tls_key)):
        if path and not os.path.isfile(path):
            print(f"error: {flag} {path}: file not found", file=sys.stderr)
            return 2
    # One token per start, never printed or stored: the relay requires it for deployments that spend a key.
    token = sys.stdin.readline().strip() if args.token_stdin else ""
    token = token or secrets.token_urlsafe(32)
    any_ip = args.host in ("0.0.0.0", "::", "")
    app = create_app(load_deployments(args.deployments), api_key=key, preload=args.preload, recordings=_recordings(), token=token,
                     allowed_hosts=[args.host, *args.allow_host], any_ip=any_ip)  # fmt: skip
    if args.exit_with_parent:
        _watch_parent(args.exit_with_parent)
    scheme = "https" if args.tls_cert else "http"
    print(f"Streaming LLM Lab server on {scheme}://{args.host}:{args.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    serve(app, args.host, args.port, log_level=args.log_level, tls=(args.tls_cert, args.tls_key) if args.tls_cert else None)
    return 0


def _watch_parent(pid: int) -> None:
    import signal
    import threading
    import time

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except OSError:
                os.kill(os.getpid(), signal.SIGTERM)
                return

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


def cmd_chat(args: argparse.Namespace) -> int:
    from streaming.core.auth import Credentials
    from streaming.core.client import Client
    from streaming.core.config import find_deployment, load_deployments
    from streaming.core.request import LLMRequest
    from streaming.server.launcher import (
        check_server,
        ensure_server,
        take_notice,
        warm_local,
    )

    deps = load_deployments(args.deployments)
    if any(d.provider == "replay" for d in deps):
        from streaming.store.recordings import with_replay_labels

        deps = with_replay_labels(deps)
    dep = find_deployment(deps, args.deployment)
    api = "completions" if args.completions else args.api  # None: the deployment's
    max_tokens = args.max_tokens or dep.max_tokens_default(128)
    kw: dict[str, Any] = dict(api=api, stream=not args.no_stream, temperature=args.temperature, max_tokens=max_tokens, seed=args.seed,
                              reasoning_effort=args.reasoning_effort)  # fmt: skip
    if (api or dep.api) == "completions":
        prompt = f"{args.system}\n\n{args.prompt}" if args.system else args.prompt
        req = LLMRequest(prompt=prompt, **kw)
    else:
        req = LLMRequest.chat(args.prompt, system=args.system, **kw)
    server_url = None
    if dep.builtin:
        server_url = ensure_server(args.deployments).url
        notice = take_notice()
        if notice:
            print(f"note: {notice}", file=sys.stderr)
        if dep.provider == "local":
            warm_local(server_url)
    out = sys.stdout
    with Client(deps, server_url=server_url, credentials=Credentials()) as client:
        stream = client.stream(dep, req)
        try:
            for delta in stream:
                if not args.json:
                    out.write(delta)
                    out.flush()
        except KeyboardInterrupt:
            pass
        finally:
            rec = stream.close()
    if dep.builtin and not rec.ok:
        notice = check_server()  # did the server itself die? then say so (it is restarted for the next request)
        if notice:
            print(f"error: {notice}", file=sys.stderr)
    if args.json:
        out.write(orjson.dumps(rec.to_dict()).decode() + "\n")
    else:
        if not rec.stream:
            out.write(rec.text)
        out.write("\n\n" + rec.summary_line() + "\n")
    return 0 if rec.ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command_in(argv))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except StreamingError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # a bug or the environment (a full disk, an unwritable path): one line; the traceback on request
        if os.environ.get("STREAMING_DEBUG"):
            raise
        first = (str(e).splitlines() or [""])[0][:300]
        print(f"error: {type(e).__name__}: {first} (set STREAMING_DEBUG=1 to see the traceback)", file=sys.stderr)
        return 1
