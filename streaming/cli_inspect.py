"""``python -m streaming inspect``: every event of one stream and what the client made of it (see ``core.inspector``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import orjson

from streaming.core.inspector import InspectError, Inspection, inspect_capture, inspect_live


def register(sub: Any) -> None:
    p = sub.add_parser("inspect", help="show every event of one stream, when it arrived and what the client made of it")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("-d", "--deployment", help="send PROMPT to this deployment through the normal client")
    src.add_argument("--file", metavar="CAPTURE", help="read a captured stream: a raw SSE body or a HAR file from the browser's developer tools")
    p.add_argument("prompt", nargs="?", default=None, help="the prompt (with -d)")
    p.add_argument("--api", choices=("chat", "responses", "completions"), default=None)
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--json", action="store_true", help="machine output: one JSON object")
    p.set_defaults(func=cmd_inspect)


def _live(args: argparse.Namespace) -> Inspection:
    from streaming.core.client import Client
    from streaming.core.config import find_deployment, load_deployments
    from streaming.core.request import LLMRequest
    from streaming.server.launcher import ensure_server

    if not args.prompt:
        raise InspectError("inspect -d NAME needs a PROMPT to send (e.g. inspect -d sim-fast \"Hello\")")
    deps = load_deployments(args.deployments)
    dep = find_deployment(deps, args.deployment)  # an unknown name: a ConfigError that lists the known ones
    api = args.api or dep.api
    req = LLMRequest(prompt=args.prompt, api=api, max_tokens=args.max_tokens) if api == "completions" else LLMRequest.chat(args.prompt, api=api, max_tokens=args.max_tokens)
    server_url = ensure_server(args.deployments).url if dep.builtin else None
    with Client(deps, server_url=server_url) as client:
        return inspect_live(client, dep, req)


def cmd_inspect(args: argparse.Namespace) -> int:
    """Print the inspection; bad input is one sentence and exit code 2 (raised as a StreamingError to ``cli.main``)."""
    if args.file:
        path = Path(args.file)
        if not path.is_file():
            raise InspectError(f"--file: {args.file} does not exist or is not a file")
        result = inspect_capture(path.read_bytes(), path.name)
    else:
        result = _live(args)
    sys.stdout.write((orjson.dumps(result.to_dict()).decode() if args.json else result.render()) + "\n")
    return 0
