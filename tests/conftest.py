"""Shared fixtures: a scripted clock, and the built-in server on a free loopback port."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest
from machine_share import MachineShare

from streaming.core.client import Client
from streaming.core.config import BUILTINS
from streaming.core.request import RetryPolicy
from streaming.core.transport.tls import trusted_context
from streaming.server.launcher import ServerHandle, free_port, start_server


class ScriptedClock:
    """A clock that returns the times it is given, in order; or a settable time."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


def wait_until(cond: Any, timeout: float = 10.0) -> None:
    """Poll ``cond()`` every 10 ms; fail the test if it is not true within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def http_client(**kw: Any) -> httpx2.Client:
    """An httpx2 client on the process's shared TLS context: ``httpx2.get`` builds a context per call (about 50 ms of CPU)."""
    return httpx2.Client(verify=trusted_context(), **kw)


def http_get(url: str, **kw: Any) -> httpx2.Response:
    return httpx2.get(url, verify=trusted_context(), **kw)


def http_post(url: str, **kw: Any) -> httpx2.Response:
    return httpx2.post(url, verify=trusted_context(), **kw)


def http_stream(method: str, url: str, **kw: Any) -> Any:
    return httpx2.stream(method, url, verify=trusted_context(), **kw)


@pytest.fixture
def clock() -> ScriptedClock:
    return ScriptedClock()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerHandle]:
    """The real built-in server as a subprocess, shared by the session."""
    logs = tmp_path_factory.mktemp("server-logs")
    handle = start_server(port=free_port(), log_dir=str(logs))
    os.environ["STREAMING_SERVER_URL"] = handle.url  # CLI subprocesses and the app reuse it
    yield handle
    handle.stop()


# -- a third-party server: llama-cpp-python's own OpenAI-compatible server ---------------------

LLAMA_CPP_MODEL = "gemma-3-270m"


@dataclass
class ThirdPartyServer:
    """``python -m llama_cpp.server`` on loopback: its base URL (``…/v1``), the model name it serves, its log."""

    base_url: str
    model: str
    log_path: str


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the test session dies without stopping it (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, int(signal.SIGTERM))


@pytest.fixture(scope="session")
def llama_cpp_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThirdPartyServer]:
    """llama-cpp-python's server (code nobody here wrote) serving the bundled Gemma model, for the session.

    Small context and one decode thread, so it fits beside the rest. The GGUF has no chat template:
    without ``--chat_format gemma`` the server guesses llama-2's format and the model answers nothing.
    """
    from streaming.errors import describe_exit
    from streaming.server.local_model import model_path

    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-cpp-server") / "llama_cpp.server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model_path(), "--model_alias", LLAMA_CPP_MODEL, "--chat_format", "gemma",
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "512", "--n_threads", "1", "--n_threads_batch", "2", "--verbose", "false"]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:  # ready once it answers /v1/models (it loads the model before it listens)
            if proc.poll() is not None:
                tail = Path(log_path).read_text(errors="replace")[-1500:]
                pytest.fail(f"llama_cpp.server exited at start ({describe_exit(proc.returncode)}); log {log_path}:\n{tail}")
            try:
                if http_get(f"{base_url}/models", timeout=1).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server did not answer /v1/models within 120 s; log {log_path}")
            time.sleep(0.1)
        yield ThirdPartyServer(base_url=base_url, model=LLAMA_CPP_MODEL, log_path=str(log_path))
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


# -- parallel runs: pytest-xdist workers share the machine; a test marked `alone` has its CPUs to itself -------
#
# Tests that time the client against the server's truth, or bound a wall-clock wait, are marked `alone`; the
# `browser` and `model` tests drain the machine. How the workers share it is in tests/machine_share.py: an alone
# test runs on half the CPUs with no other test there, two workers (the companions) go on with other tests on
# the other half, and any other worker waits; a drain test runs with no other test at all. The alone and drain
# tests come first and share one worker (the group `alone`, with the Ray tests: one Ray cluster), so the machine
# is split once, not once per such test. Without workers (`-n 0`, `-p no:xdist`) nothing is locked or pinned.

LOCK_DIR_ENV = "LAB_TEST_LOCK_DIR"
_SHARE: MachineShare | None = None  # a worker's (set at configure); None without workers
DRAIN_MARKERS = ("browser", "model")
ALONE_GROUP = "alone"  # the xdist group of the alone tests (and the Ray tests, which share their cluster)
COMPILING = pytest.StashKey[threading.Thread]()


def kind_of(item: pytest.Item) -> str:
    """How ``item`` shares the machine: "drain", "alone" or "shared" (tests/machine_share.py)."""
    if any(item.get_closest_marker(m) is not None for m in DRAIN_MARKERS):
        return "drain"
    return "alone" if item.get_closest_marker("alone") is not None else "shared"


def runs_alone(item: pytest.Item) -> bool:
    return kind_of(item) != "shared"


def pytest_configure(config: pytest.Config) -> None:
    global _SHARE
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # the controller: its workers inherit the directory
        os.environ[LOCK_DIR_ENV] = tempfile.mkdtemp(prefix="lab-test-locks-")
        if config.getoption("numprocesses", None):
            config.stash[COMPILING] = compile_once(config)
    elif os.environ.get(LOCK_DIR_ENV):
        _SHARE = MachineShare(os.environ[LOCK_DIR_ENV])


def pytest_unconfigure(config: pytest.Config) -> None:
    if COMPILING in config.stash:
        config.stash[COMPILING].join()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(os.environ.pop(LOCK_DIR_ENV, ""), ignore_errors=True)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The alone tests first, then the drain tests (then the rest, each part in its order), all in the worker group
    `alone`. Alone before drain: the companions stop for a drain test and wait for it, so the machine changes hands
    once, not at every switch between the two kinds (each switch waited for the companions' running tests to end)."""
    order = {"alone": 0, "drain": 1, "shared": 2}
    items.sort(key=lambda it: order[kind_of(it)])  # stable: each part keeps its order
    for it in items:
        if runs_alone(it):
            it.add_marker(pytest.mark.xdist_group(ALONE_GROUP))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """pytest-xdist's `loadgroup`, with the group `alone` handed out first (xdist orders the groups by size): it is
    its worker's first work, so the machine is split once, at the start, and never again."""
    if config.getoption("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class AloneFirst(LoadGroupScheduling):
        def _assign_work_unit(self, node: Any) -> None:
            if ALONE_GROUP in self.workqueue:
                self.workqueue.move_to_end(ALONE_GROUP, last=False)
            super()._assign_work_unit(node)

    return AloneFirst(config, log)


def compile_once(config: pytest.Config) -> threading.Thread:
    """Compile the project's modules and rewrite the tests' asserts once, for every worker and subprocess.

    Each worker imports every test module (pytest rewrites its asserts: about 5 s of CPU per worker), and every
    worker, server, CLI and Ray process imports ``streaming``. Where ``PYTHONDONTWRITEBYTECODE`` is set (as on
    this machine) none of that is cached, so each process compiled it all again. The controller writes it once,
    in a thread while its workers start, into the gitignored ``__pycache__/`` folders beside the sources, as
    pytest itself and ``pip install`` do. The project's are checked by the source's hash, not its time, so they
    also hold in the copy of ``streaming/`` that Ray unpacks for its workers; pytest checks its own by time and size.
    A worker that needs a module before it is written compiles it itself, as before.
    """
    import compileall
    import py_compile

    from _pytest.assertion import rewrite

    root, tests = Path(ROOT), Path(ROOT) / "tests"
    state = config.stash[rewrite.assertstate_key]

    def work() -> None:
        for fn in sorted(tests.rglob("*.py")):  # in the workers' collection order, to stay ahead of them
            if fn.name == "conftest.py" or fn.name.startswith("test_"):
                pyc = rewrite.get_cache_dir(fn) / (fn.name[:-3] + rewrite.PYC_TAIL)
                if rewrite._read_pyc(fn, pyc) is None and rewrite.try_makedirs(pyc.parent):
                    stat, code = rewrite._rewrite_test(fn, config)
                    rewrite._write_pyc(state, code, stat, pyc)
        for path in [root / "streaming", root / "ui", *(p for p in tests.glob("*.py") if p.name != "conftest.py")]:
            compile_path = compileall.compile_dir if path.is_dir() else compileall.compile_file
            compile_path(path, quiet=2, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)

    thread = threading.Thread(target=work, name="compile-once", daemon=True)
    thread.start()
    return thread


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist sends each worker's test ids to the controller
def pytest_collection_finish(session: pytest.Session) -> None:
    """Every alone test in the group `alone` only. pytest-xdist names a test's group after all its `xdist_group`
    marks (an alone test in a module with its own group would be in `alone_relay`, on another worker, and drain
    the machine in the middle of the run), and it puts the group in the test's id, which is what it schedules by.

    Each new ``AppTest`` scans every installed distribution's metadata for Streamlit components (about 0.3 s of
    CPU, a few hundred times a run). The installed packages do not change during a session: scan once, as
    ``streamlit run`` does at its start."""
    for it in session.items:
        if runs_alone(it) and "@" in it.nodeid:
            it._nodeid = f"{it.nodeid.rpartition('@')[0]}@{ALONE_GROUP}"
    if "streamlit.testing.v1" in sys.modules:
        from streamlit.components.v2 import manifest_scanner

        if not hasattr(manifest_scanner.scan_component_manifests, "cache_info"):
            manifest_scanner.scan_component_manifests = functools.cache(manifest_scanner.scan_component_manifests)


@pytest.hookimpl(wrapper=True)
def pytest_collection(session: pytest.Session) -> Any:
    """A worker's collection (seconds of CPU: it imports the app's libraries) counts as a running test."""
    if _SHARE is None:
        return (yield)
    _SHARE.take("shared")
    try:
        return (yield)
    finally:
        _SHARE.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Any:
    """Setup, call and teardown under the machine share; consecutive alone and drain tests keep it between them."""
    if _SHARE is None:
        return (yield)
    _SHARE.take(kind_of(item))
    try:
        return (yield)
    finally:
        if nextitem is None or not runs_alone(nextitem) or _SHARE.held not in ("alone", "drain"):
            _SHARE.release()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test that used the third-party server names its log, with the last lines."""
    report = yield
    srv = getattr(item, "funcargs", {}).get("llama_cpp_server")
    if report.failed and isinstance(srv, ThirdPartyServer):
        tail = Path(srv.log_path).read_text(errors="replace")[-1500:] if Path(srv.log_path).exists() else ""
        report.sections.append(("llama_cpp.server log", f"{srv.log_path}\n{tail}"))
    return report


def pipe(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until ``src`` ends, then half-close ``dst`` (one direction of a loopback forwarder)."""
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="session")
def ray_cluster(server: ServerHandle) -> Iterator[Any]:
    """One local Ray cluster for the whole session (each start costs seconds of CPU); other processes join it by its address."""
    from streaming.bench.distributed import connect

    ray = connect(None)
    yield ray
    ray.shutdown()


@pytest.fixture
def client(server: ServerHandle) -> Iterator[Client]:
    with Client(list(BUILTINS), server_url=server.url, retry=RetryPolicy(max_retries=2, base_s=0.05)) as c:
        yield c


# -- real browser (Debian's Chromium driven by playwright) and a real `streamlit run` --------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium for one test. Not shared wider: playwright's sync API keeps an event loop
    running on this thread while it is open, and other tests call ``asyncio.run``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page at 1400×1000 (the size the issues were tried at), 30 s timeouts. A test file may define its own."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = ctx.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    ctx.close()


@contextlib.contextmanager
def streamlit_app(script: str, env: dict[str, str], log_path: str, timeout: float = 60.0, address: str = "127.0.0.1",
                  extra_args: tuple[str, ...] = ()) -> Iterator[str]:  # fmt: skip
    """``streamlit run script`` on a free port (bound to ``address``); yields its loopback URL once healthy, stops it after."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.address", address,
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none", *extra_args]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + timeout
        try:
            while True:
                assert proc.poll() is None, open(log_path, errors="replace").read()[-2000:]
                try:
                    if http_get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                        break
                except httpx2.HTTPError:
                    pass
                assert time.monotonic() < deadline, f"streamlit did not start in {timeout:.0f} s"
                time.sleep(0.1)
            yield url
        finally:
            proc.terminate()
            proc.wait(10)
