"""The suite's own machinery: under pytest-xdist an alone test has the machine to itself (tests/conftest.py)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

import conftest
from conftest import MachineShare, wait_until


def taken_within(share: MachineShare, alone: bool, seconds: float) -> bool:
    """Whether ``share.take(alone)`` returns within ``seconds`` (it then keeps what it took)."""
    done = threading.Event()
    threading.Thread(target=lambda: (share.take(alone), done.set()), daemon=True).start()
    return done.wait(seconds)


def test_an_alone_test_waits_for_the_running_ones_and_no_test_starts_beside_it(tmp_path: Path) -> None:
    running, alone, later = MachineShare(str(tmp_path)), MachineShare(str(tmp_path)), MachineShare(str(tmp_path))
    running.take(alone=False)
    assert not taken_within(alone, alone=True, seconds=0.3)  # a test is running: the alone one waits...
    time.sleep(0.1)
    assert not taken_within(later, alone=False, seconds=0.3)  # ...and, the gate closed, no new test starts
    running.release()
    wait_until(lambda: alone.held == "alone", timeout=5)
    assert later.held is None  # the alone test runs, by itself
    alone.release()
    wait_until(lambda: later.held == "shared", timeout=5)  # then the others go on, side by side
    assert taken_within(MachineShare(str(tmp_path)), alone=False, seconds=1)
    later.release()


@pytest.mark.alone
def test_under_workers_an_alone_test_holds_the_machine() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held == "alone"
    else:
        assert conftest._SHARE is None  # one process: nothing to share


def test_under_workers_any_other_test_holds_it_shared() -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        assert conftest._SHARE is not None and conftest._SHARE.held == "shared"
    else:
        assert conftest._SHARE is None
