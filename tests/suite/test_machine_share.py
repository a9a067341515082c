"""The suite's own machinery: under pytest-xdist an alone test runs first at normal priority, the others at a
lower one, and a browser or model test has the machine to itself (tests/conftest.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import conftest
from conftest import MachineShare, wait_until


def taken_within(share: MachineShare, how: str, seconds: float) -> bool:
    """Whether ``share.take(how)`` returns within ``seconds`` (it then keeps what it took)."""
    done = threading.Event()
    threading.Thread(target=lambda: (share.take(how), done.set()), daemon=True).start()
    return done.wait(seconds)


def test_an_exclusive_test_waits_for_the_running_ones_and_no_test_starts_beside_it(tmp_path: Path) -> None:
    running, exclusive, later = MachineShare(str(tmp_path)), MachineShare(str(tmp_path)), MachineShare(str(tmp_path))
    running.take("shared")
    assert not taken_within(exclusive, "exclusive", seconds=0.3)  # a test is running: the exclusive one waits...
    time.sleep(0.1)
    assert not taken_within(later, "shared", seconds=0.3)  # ...and, the gate closed, no new test starts
    running.release()
    wait_until(lambda: exclusive.held == "exclusive", timeout=5)
    assert later.held is None  # the exclusive test runs, by itself
    exclusive.release()
    wait_until(lambda: later.held == "shared", timeout=5)  # then the others go on, side by side
    assert taken_within(MachineShare(str(tmp_path)), "shared", seconds=1)
    later.release()


def test_an_alone_test_waits_for_every_collection_then_runs_beside_the_others(tmp_path: Path) -> None:
    collecting, first = MachineShare(str(tmp_path)), MachineShare(str(tmp_path))
    collecting.take("collecting")
    assert not taken_within(first, "first", seconds=0.3)  # a worker still collects: the alone test waits
    collecting.release()
    wait_until(lambda: first.held == "first", timeout=5)
    beside = MachineShare(str(tmp_path))
    assert taken_within(beside, "shared", seconds=1)  # the others run beside it (at the lower priority)
    exclusive = MachineShare(str(tmp_path))
    assert not taken_within(exclusive, "exclusive", seconds=0.3)  # a browser test still waits for the shared one
    beside.release()
    wait_until(lambda: exclusive.held == "exclusive", timeout=5)
    exclusive.release()
    first.release()


@pytest.mark.alone
def test_under_workers_an_alone_test_runs_at_the_workers_first_priority() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held == "first"
        assert os.getpriority(os.PRIO_PROCESS, 0) == conftest.START_PRIORITY  # its worker ran no other test before
    else:
        assert conftest._SHARE is None  # one process: nothing to share


def test_under_workers_any_other_test_runs_at_the_lower_priority_and_holds_the_machine_shared() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held == "shared"
        assert os.getpriority(os.PRIO_PROCESS, 0) == conftest.SHARED_PRIORITY
    else:
        assert conftest._SHARE is None
