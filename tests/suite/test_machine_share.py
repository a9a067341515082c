"""The suite's own machinery: how pytest-xdist workers share the machine (tests/machine_share.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import conftest
import machine_share
from conftest import wait_until
from machine_share import ALONE_CPUS, COMPANION_CPUS, COMPANIONS, CPUS, MachineShare, pin_tree

two_cpus = pytest.mark.skipif(len(CPUS) < 2, reason="the companion needs two CPUs")


def taken_within(share: MachineShare, kind: str, seconds: float) -> bool:
    """Whether ``share.take(kind)`` returns within ``seconds`` (it then keeps what it took)."""
    done = threading.Event()
    threading.Thread(target=lambda: (share.take(kind), done.set()), daemon=True).start()
    return done.wait(seconds)


@pytest.fixture
def unpinned() -> object:
    """This process's threads (and children) on every CPU again after the test, whatever it pinned."""
    yield None
    pin_tree(os.getpid(), set(CPUS))


def test_an_alone_test_waits_for_the_running_ones_and_no_test_starts_beside_it(tmp_path: Path, unpinned: object) -> None:
    running, alone, later = MachineShare(str(tmp_path)), MachineShare(str(tmp_path)), MachineShare(str(tmp_path))
    later.companion = False  # not the companion: it waits at the gate
    running.take("shared")
    assert not taken_within(alone, "alone", seconds=0.3)  # a test is running: the alone one waits...
    time.sleep(0.1)
    assert not taken_within(later, "shared", seconds=0.3)  # ...and, the gate closed, no new test starts
    running.release()
    wait_until(lambda: alone.held == "alone", timeout=5)
    assert later.held is None  # the alone test runs, with no other test beside it
    alone.release()
    wait_until(lambda: later.held == "shared", timeout=5)  # then the others go on, side by side
    assert taken_within(MachineShare(str(tmp_path)), "shared", seconds=1)
    later.release()


def test_a_bad_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        MachineShare(str(tmp_path)).take("exclusive")


def cpus_of(pid: int) -> set[int]:
    return os.sched_getaffinity(pid)


@two_cpus
def test_companions_run_beside_an_alone_test_on_the_other_cpus_and_a_drain_test_stops_them(tmp_path: Path, unpinned: object) -> None:
    # Each MachineShare stands for one worker; here all are threads of this process, so each pins the whole
    # process: what is checked is who waits, who runs, and the CPU split each one asks for.
    alone, other = MachineShare(str(tmp_path)), MachineShare(str(tmp_path))
    companions = [MachineShare(str(tmp_path)) for _ in range(COMPANIONS)]
    alone.take("alone")
    assert alone.held == "alone" and cpus_of(0) == ALONE_CPUS
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])  # a server the test started
    try:
        for c in companions:  # the first workers to find the gate closed...
            assert taken_within(c, "shared", seconds=2)
            assert c.held == "companion" and c.companion and cpus_of(child.pid) == COMPANION_CPUS  # ...run on the other half
        assert not taken_within(other, "shared", seconds=0.3)  # no more companions: the others wait at the gate
        assert not other.companion
        for c in companions:
            c.release()
        alone.take("drain")  # a browser or model test next: the whole machine, and the companions stop
        assert alone.held == "drain" and cpus_of(child.pid) == set(CPUS)
        assert not taken_within(companions[0], "shared", seconds=0.3)
        alone.take("alone")  # the drain ends: the companions go on beside the alone test again
        wait_until(lambda: companions[0].held == "companion", timeout=5)
        assert cpus_of(0) == COMPANION_CPUS  # (the last to pin this process was the companion)
        companions[0].release()
        alone.release()  # the alone tests end: a companion's next test is an ordinary one, on every CPU
        assert taken_within(companions[0], "shared", seconds=2) and companions[0].held == "shared"
        assert cpus_of(child.pid) == set(CPUS) and cpus_of(0) == set(CPUS)
        wait_until(lambda: other.held == "shared", timeout=5)  # and the others go on
    finally:
        child.kill()
        child.wait()
        for s in (alone, other, *companions):
            s.release()


def test_the_split_is_two_halves_of_this_machine() -> None:
    assert ALONE_CPUS | COMPANION_CPUS == set(CPUS) and not ALONE_CPUS & COMPANION_CPUS
    assert len(ALONE_CPUS) >= len(COMPANION_CPUS) and ALONE_CPUS == set(CPUS[len(CPUS) // 2 :])


def test_a_process_tree_is_found_from_proc() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); time.sleep(30)"])
    try:
        wait_until(lambda: len(machine_share.process_tree(child.pid)) == 2, timeout=10)  # the child and its own child
        assert child.pid in machine_share.process_tree(os.getpid())
    finally:
        for pid in machine_share.process_tree(child.pid)[::-1]:
            os.kill(pid, 9)
        child.wait()


@pytest.mark.alone
def test_under_workers_an_alone_test_holds_the_machine() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held == "alone"
        if COMPANION_CPUS:
            assert os.sched_getaffinity(0) == ALONE_CPUS
    else:
        assert conftest._SHARE is None  # one process: nothing to share


def test_under_workers_any_other_test_holds_it_shared_or_runs_as_the_companion() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held in ("shared", "companion")
        assert os.sched_getaffinity(0) == (COMPANION_CPUS if conftest._SHARE.held == "companion" else set(CPUS))
    else:
        assert conftest._SHARE is None
