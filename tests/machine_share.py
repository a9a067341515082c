"""How pytest-xdist workers share the machine (used by ``conftest.py``; ``tests/suite/test_machine_share.py`` tests it).

Three kinds of test:
- ``shared``: most tests. Any number run side by side.
- ``alone``: a test that times the client against the server's truth, or bounds a wall-clock wait. It runs on
  half the CPUs (``ALONE_CPUS``), with no other test on them. On the other half (``COMPANION_CPUS``) up to
  ``COMPANIONS`` workers go on with shared tests meanwhile (two: one alone mostly waits on sockets and leaves
  its half idle; two share it as four workers share the whole machine at other times). Any other worker waits.
- ``drain``: the ``browser`` and ``model`` tests (Chromium's waits and the model's decoding take every core, and
  several bound a time). No other test runs beside one, not even a companion.

The ``flock``s, each a file in the run's lock directory:
- ``share``: a shared test holds it shared; an alone or drain test holds it exclusively.
- ``gate``: an alone or drain test closes it first (no new shared test starts), then takes ``share`` (the
  running ones end). A shared test passes the gate only to take ``share``.
- ``core``: a companion holds it shared while it runs a test beside an alone one; a drain test takes it
  exclusively, so the companions' tests end and no new one starts.
- ``companion-0``, ``companion-1``: a worker that holds one is a companion (it takes one the first time it
  finds the gate closed, and keeps it).

The CPU split is set with ``sched_setaffinity`` on every thread of the worker's process tree (its servers, CLI
runs and Ray processes included; new ones inherit it), and undone the same way when the worker next holds
``share``. On a machine with one CPU there are no companions: an alone test drains the machine.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections import defaultdict

KINDS = ("shared", "alone", "drain")
CPUS = sorted(os.sched_getaffinity(0))
COMPANION_CPUS = set(CPUS[: len(CPUS) // 2])
ALONE_CPUS = set(CPUS[len(CPUS) // 2 :])
COMPANIONS = 2


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (from ``/proc``)."""
    children: dict[int, list[int]] = defaultdict(list)
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            children[int(stat[stat.rfind(")") + 2 :].split()[1])].append(int(name))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def pin_tree(root: int, cpus: set[int]) -> None:
    """Every thread of ``root``'s process tree on ``cpus`` (affinity is per thread; new threads and processes inherit it)."""
    for pid in process_tree(root):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            continue
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:  # gone, or not ours to move
                pass


class MachineShare:
    """One worker's view of the locks: ``take(kind)`` before a test, ``release()`` after it."""

    def __init__(self, directory: str) -> None:
        def lock_file(name: str) -> int:
            return os.open(os.path.join(directory, name), os.O_CREAT | os.O_RDWR)

        self.gate, self.lock, self.core = (lock_file(n) for n in ("gate", "share", "core"))
        self.companion_files = [lock_file(f"companion-{i}") for i in range(COMPANIONS)]
        self.held: str | None = None  # "shared", "alone", "drain" or "companion" (a shared test beside an alone one)
        self.companion: bool | None = None  # decided the first time this worker finds an alone test running

    def take(self, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind != "shared" and self.held in ("alone", "drain"):
            self._switch(kind)  # the previous test held the machine too: keep it
            return
        self.release()
        if kind == "shared":
            self._take_shared()
            return
        fcntl.flock(self.gate, fcntl.LOCK_EX)  # waits while another alone test holds the gate
        fcntl.flock(self.lock, fcntl.LOCK_EX)  # the gate stays closed: running tests end, none starts
        self.held = "alone"
        self._switch(kind)

    def release(self) -> None:
        if self.held == "companion":
            fcntl.flock(self.core, fcntl.LOCK_UN)
        elif self.held is not None:
            if self.held == "drain":
                fcntl.flock(self.core, fcntl.LOCK_UN)
            fcntl.flock(self.lock, fcntl.LOCK_UN)
            if self.held != "shared":
                fcntl.flock(self.gate, fcntl.LOCK_UN)
        self.held = None

    def _switch(self, kind: str) -> None:
        """Holding gate and share: from alone to drain takes the companions' core too; from drain to alone gives it back."""
        if kind == "drain" and self.held != "drain":
            fcntl.flock(self.core, fcntl.LOCK_EX)  # the companions' running tests end; none starts
            self._pin(set(CPUS))
        elif kind == "alone":
            if COMPANION_CPUS:
                self._pin(ALONE_CPUS)  # on its half before the companions may go on
            if self.held == "drain":
                fcntl.flock(self.core, fcntl.LOCK_UN)
        self.held = kind

    def _take_shared(self) -> None:
        while True:
            if _try_flock(self.gate, fcntl.LOCK_EX):
                break
            if not self._is_companion():
                fcntl.flock(self.gate, fcntl.LOCK_EX)  # waits while an alone test holds the gate
                break
            if _try_flock(self.lock, fcntl.LOCK_SH):  # no alone test runs yet (one waits for the running tests to end)
                fcntl.flock(self.lock, fcntl.LOCK_UN)  # do not keep it waiting
                time.sleep(0.005)
                continue
            fcntl.flock(self.core, fcntl.LOCK_SH)  # waits while a drain test runs
            if _try_flock(self.lock, fcntl.LOCK_SH):  # it ended meanwhile: take share the usual way
                fcntl.flock(self.lock, fcntl.LOCK_UN)
                fcntl.flock(self.core, fcntl.LOCK_UN)
                continue
            self._pin(COMPANION_CPUS)  # an alone test runs on the other CPUs
            self.held = "companion"
            return
        fcntl.flock(self.lock, fcntl.LOCK_SH)
        fcntl.flock(self.gate, fcntl.LOCK_UN)
        self.held = "shared"
        self._pin(set(CPUS))  # no alone test runs while share is held shared

    def _is_companion(self) -> bool:
        if self.companion is None:
            self.companion = bool(COMPANION_CPUS) and any(_try_flock(fd, fcntl.LOCK_EX) for fd in self.companion_files)
        return self.companion

    def _pin(self, cpus: set[int]) -> None:
        """The tree on ``cpus``; nothing to do when this thread is there already (the tree was pinned with it, and
        what it started since inherits the CPUs)."""
        if os.sched_getaffinity(0) != cpus:
            pin_tree(os.getpid(), cpus)


def _try_flock(fd: int, op: int) -> bool:
    try:
        fcntl.flock(fd, op | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
