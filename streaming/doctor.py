"""``python -m streaming doctor``: one screen of what works on this machine, and what to do about what doesn't.

Each check prints ``ok``, ``warn`` or ``FAIL`` with one line of detail and, when it is
not ok, the fix. The exit code is 0 when the built-in deployments work (the server
starts, ``sim-fast`` streams and the local model generates), 1 otherwise. Nothing
here can crash the command: the model runs in the built-in server's worker process,
so a crash in llama.cpp is reported, not fatal. Keys are never shown, only whether
they are set and where from.
"""

from __future__ import annotations

import argparse
import importlib.metadata as md
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REQUIREMENTS = Path(__file__).resolve().parents[1] / "requirements.txt"
# Used only by the tests, the third-party server, scale-out, sign-in, Entra ID or TLS: missing, the built-ins still work.
OPTIONAL = {"playwright", "pytest", "hypothesis", "ray", "sse-starlette", "starlette-context", "pydantic-settings", "authlib", "httpx",
            "azure-identity", "cryptography"}  # fmt: skip
CHROMIUM = "/usr/bin/chromium"


@dataclass
class Check:
    name: str
    level: str  # ok | warn | FAIL
    detail: str
    fix: str = ""
    essential: bool = False  # a FAIL here means the built-in deployments do not work

    def lines(self) -> list[str]:
        out = [f"{self.level:<4}  {self.name:<22} {self.detail}"]
        if self.fix and self.level != "ok":
            out.append(f"{'':<28}→ {self.fix}")
        return out


def check_python() -> Check:
    ok = sys.version_info >= (3, 11)
    return Check("python", "ok" if ok else "FAIL", f"{platform.python_version()} ({sys.executable})", "use Python 3.11 or newer", essential=True)


def _applies(marker: str) -> bool:
    """Whether a requirement's environment marker holds here (``packaging``'s evaluator; without it, every line counts)."""
    if not marker:
        return True
    try:
        from packaging.markers import Marker
    except ImportError:
        return True
    return bool(Marker(marker).evaluate())


def pinned(path: Path = REQUIREMENTS) -> dict[str, str]:
    """Every ``name==version`` of requirements.txt that applies to this machine, in file order (comments and pip options dropped)."""
    out: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #")[0].split(" --")[0].strip()  # "pkg==1.0 ; marker --config-settings=…  # why"
        if not line or line.startswith(("#", "-")):
            continue
        spec, _, marker = line.partition(";")
        name, sep, version = spec.strip().partition("==")
        if sep and _applies(marker.strip()):
            out.setdefault(name.strip(), version.strip())
    return out


def check_packages(path: Path = REQUIREMENTS) -> list[Check]:
    """One check per package pinned in requirements.txt: installed, and at the pinned version."""
    fix = "pip install -r requirements.txt"
    out = []
    for name, want in pinned(path).items():
        essential = name.lower() not in OPTIONAL
        try:
            have = md.version(name)
        except md.PackageNotFoundError:
            out.append(Check(f"  {name}", "FAIL", f"not installed (requirements.txt pins {want})", fix, essential=essential))
            continue
        if have == want:
            out.append(Check(f"  {name}", "ok", have))
        else:
            out.append(Check(f"  {name}", "warn", f"{have} installed, requirements.txt pins {want}", fix))
    return out


def packages_summary(pkgs: list[Check]) -> Check:
    """The packages line: how many of requirements.txt's pins are installed at their version."""
    ok = sum(c.level == "ok" for c in pkgs)
    missing = sum(c.level == "FAIL" for c in pkgs)
    other = len(pkgs) - ok - missing
    detail = f"{ok} of {len(pkgs)} pinned in requirements.txt installed at their version"
    detail += (f"; {missing} missing" if missing else "") + (f"; {other} at another version" if other else "")
    return Check("packages", "FAIL" if missing else "warn" if other else "ok", detail)


def check_llama() -> Check:
    """llama.cpp's system info, read in a subprocess (importing the library must not take this command down)."""
    code = "from streaming.server.local_worker import system_info, amx_compiled_in; i = system_info(); print(amx_compiled_in(i)); print(i)"
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=str(Path(__file__).resolve().parent.parent))
    except subprocess.TimeoutExpired:
        return Check("llama.cpp", "FAIL", "reading its system info took over 60 s", "pip install --force-reinstall -r requirements.txt", essential=True)
    if p.returncode != 0:
        from streaming.errors import describe_exit

        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return Check("llama.cpp", "FAIL", f"could not be loaded ({describe_exit(p.returncode)}): {last}", "pip install --force-reinstall -r requirements.txt", essential=True)
    amx, _, info = p.stdout.partition("\n")
    info = " ".join(info.replace("CPU :", "").split())
    if amx.strip() == "True":
        return Check("llama.cpp", "warn", f"built with AMX kernels ({info}); the worker keeps them off (use_extra_bufts = False)",
                     "rebuild without AMX: pip install --no-cache-dir --force-reinstall -r requirements.txt")  # fmt: skip
    return Check("llama.cpp", "ok", f"no AMX kernels; {info}")


def check_builtins(deployments_file: str | None) -> list[Check]:
    """Start a built-in server of our own, stream 8 tokens from sim-fast and 4 from the local model (in its worker process)."""
    from streaming.core.client import Client
    from streaming.core.config import BUILTINS
    from streaming.core.request import LLMRequest, RetryPolicy, Timeouts
    from streaming.errors import StreamingError
    from streaming.server.launcher import free_port, start_server, warm_local

    out: list[Check] = []
    t = time.perf_counter()
    try:
        server = start_server(port=free_port(), log_dir=tempfile.gettempdir())
    except StreamingError as e:
        first = str(e).splitlines()[0]
        return [Check("built-in server", "FAIL", first, "read the log named above; then python -m streaming serve --log-level info", essential=True)]
    try:
        out.append(Check("built-in server", "ok", f"started in {time.perf_counter() - t:.1f} s at {server.url}; log {server.log_path}", essential=True))
        with Client(list(BUILTINS), server_url=server.url, timeouts=Timeouts(connect_s=5, stall_s=60), retry=RetryPolicy(max_retries=0)) as c:
            rec = c.run("sim-fast", LLMRequest.chat("Say hello.", max_tokens=8, seed=1))
            if rec.ok:
                out.append(Check("sim-fast", "ok", f"TTFT {rec.ttft_s * 1000:.0f} ms, {rec.output_tokens} tokens over HTTP", essential=True))
            else:
                out.append(Check("sim-fast", "FAIL", rec.error or rec.status, f"see the server log {server.log_path}", essential=True))
            t = time.perf_counter()
            try:
                warm_local(server.url, timeout=180)
                loaded = f"loaded in {time.perf_counter() - t:.1f} s; "
            except StreamingError as e:
                loaded = f"did not load ({str(e).splitlines()[0]}); "
            rec = c.run("local", LLMRequest.chat("What is cloud computing?", max_tokens=4, temperature=0.0, seed=1))
            if rec.ok:
                rate = f", {rec.tokens_per_s:.0f} tok/s" if rec.tokens_per_s else ""
                out.append(Check("local model", "ok", f"{loaded}4-token answer {rec.text.strip()!r}: TTFT {rec.ttft_s * 1000:.0f} ms{rate}", essential=True))
            else:
                fix = "the crash stayed in the model's worker; run python -m streaming doctor again after pip install --no-cache-dir --force-reinstall -r requirements.txt"
                out.append(Check("local model", "FAIL", f"{loaded}{rec.error or rec.status}", fix, essential=True))
    finally:
        server.stop()
    return out


def check_chromium() -> Check:
    path = shutil.which("chromium") or (CHROMIUM if Path(CHROMIUM).exists() else None)
    if not path:
        return Check("chromium", "warn", "not found (only the browser tests need it)", "apt-get install chromium (.ci/run does this)")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return Check("chromium", "warn", f"{path} does not run: {e}", "apt-get install --reinstall chromium")
    return Check("chromium", "ok", f"{version} at {path} (browser tests)")


def check_database() -> Check:
    from streaming.store import default_db_path

    path = Path(default_db_path()).resolve()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            sqlite3.connect(f"file:{path}?mode=rw", uri=True).execute("PRAGMA user_version").fetchone()
        else:
            probe = tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-probe-", delete=True)  # noqa: SIM115
            probe.close()
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(f"{path.parent} is not writable")
    except (OSError, sqlite3.Error) as e:
        return Check("results database", "FAIL", f"{path}: {e}", "set STREAMING_DB to a writable path, or pass --db PATH")
    where = "STREAMING_DB" if os.environ.get("STREAMING_DB") else "default"
    return Check("results database", "ok", f"{path} is writable ({where})")


def check_deployments(deployments_file: str | None) -> list[Check]:
    from streaming.core.auth import secrets_file
    from streaming.core.config import load_deployments
    from streaming.errors import ConfigError

    shown = deployments_file or ("./deployments.toml" if Path("deployments.toml").is_file() else None)
    if shown and deployments_file and deployments_file == os.environ.get("STREAMING_DEPLOYMENTS"):
        shown += " (STREAMING_DEPLOYMENTS)"
    try:
        deps = load_deployments(deployments_file)
    except ConfigError as e:
        via = "STREAMING_DEPLOYMENTS: " if shown and shown.endswith("(STREAMING_DEPLOYMENTS)") else ""
        return [Check("deployments file", "FAIL", f"{via}{e}", "fix the field named above")]
    out = [Check("deployments file", "ok", f"{shown}: {sum(d.source != 'built-in' for d in deps)} deployment(s)" if shown
                 else "none (built-ins only); see README, Deployments")]  # fmt: skip
    secrets, secrets_path = secrets_file()
    for d in deps:
        if d.provider == "replay":
            from streaming.store.recordings import label_of, load_recording

            try:
                out.append(Check(f"  {d.name}", "ok", f"{label_of(d)}: {len(load_recording(d).answers)} recorded answers"))
            except ConfigError as e:
                out.append(Check(f"  {d.name}", "warn", f"cannot be replayed: {e}", "record that run or deployment first, or fix 'run' / 'deployment'"))
            continue
        if d.builtin:
            continue
        if d.provider == "azure" and d.auth == "entra":
            out.append(Check(f"  {d.name}", "ok", "Microsoft Entra ID (azure-identity's DefaultAzureCredential)"))
        elif not d.api_key_env:
            out.append(Check(f"  {d.name}", "ok", "no key needed"))
        elif os.environ.get(d.api_key_env):
            out.append(Check(f"  {d.name}", "ok", f"key set in the environment ({d.api_key_env})"))
        elif secrets.get(d.api_key_env):
            out.append(Check(f"  {d.name}", "ok", f"key set in {secrets_path} ({d.api_key_env})"))
        else:
            out.append(Check(f"  {d.name}", "warn", f"no key: {d.api_key_env} is not set", f"export {d.api_key_env}=… or add it to .streamlit/secrets.toml"))
    return out


def run(args: argparse.Namespace) -> int:
    try:
        pkgs = check_packages()
        checks: list[Check] = [check_python(), packages_summary(pkgs), *pkgs]
    except OSError as e:  # installed without the checkout's requirements.txt
        checks = [check_python(), Check("packages", "warn", f"cannot read {REQUIREMENTS} ({e.__class__.__name__}): versions not checked")]
    if not any(c.level == "FAIL" and c.essential for c in checks):
        checks.append(check_llama())
        checks += check_builtins(args.deployments)
    checks += [check_chromium(), check_database(), *check_deployments(args.deployments or os.environ.get("STREAMING_DEPLOYMENTS") or None)]  # the app pages read the variable
    print("Streaming LLM Lab doctor\n")
    for c in checks:
        for line in c.lines():
            print(line)
    broken = [c.name.strip() for c in checks if c.level == "FAIL" and c.essential]
    print()
    if broken:
        print(f"The built-in deployments do not work here: {', '.join(broken)} failed. Fix the first one above and run this again.")
        return 1
    warns = sum(c.level != "ok" for c in checks)
    print("The built-in deployments work." + (f" {warns} other item(s) above need attention." if warns else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    d = sub.add_parser("doctor", help="check what works on this machine (packages, llama.cpp, built-in server, browser, database, keys)")
    d.set_defaults(func=run)
