"""The suite's own lock between parallel workers (tests/alone.py): an `alone` test waits
for the others to end, and once it waits no other test starts."""

from __future__ import annotations

import fcntl
import threading
from pathlib import Path

from tests import alone


def _takes(path: Path, kind: int) -> bool:
    """Whether `kind` of lock on `path` would be granted now (taken and let go at once)."""
    with open(path, "a") as f:
        try:
            fcntl.flock(f, kind | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def test_an_alone_test_waits_for_the_others_and_holds_back_new_ones(tmp_path):
    entered = threading.Event()
    with alone.turn(tmp_path, alone=False):
        assert _takes(tmp_path / "run", fcntl.LOCK_SH)  # others may run beside it
        assert not _takes(tmp_path / "run", fcntl.LOCK_EX)

        def lone() -> None:
            with alone.turn(tmp_path, alone=True):
                entered.set()

        waiter = threading.Thread(target=lone)
        waiter.start()
        for _ in range(500):  # until it waits for `run`, holding `intent`
            if not _takes(tmp_path / "intent", fcntl.LOCK_SH):
                break
            threading.Event().wait(0.01)
        assert not _takes(tmp_path / "intent", fcntl.LOCK_SH)  # a new test would wait
        assert not entered.is_set()
    waiter.join(timeout=10)
    assert entered.is_set()
    assert _takes(tmp_path / "intent", fcntl.LOCK_SH)
    assert _takes(tmp_path / "run", fcntl.LOCK_EX)


def test_outside_a_parallel_run_there_is_no_lock(monkeypatch):
    monkeypatch.delenv(alone.ENV, raising=False)
    assert alone.folder() is None
