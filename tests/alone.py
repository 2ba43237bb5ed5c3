"""Tests marked `alone` run with no other test beside them when the suite runs in
parallel workers: they bound a time (a failover within 5 s, a lease that must not lapse)
that a second test's runners, sharing the machine's cores, would stretch.

Between the workers of one run (pytest-xdist), two lock files in a folder the run makes
form a readers-writer lock with the writer first: every test holds `run` shared, an
`alone` test holds it exclusive; a waiting `alone` test holds `intent`, which every test
takes for a moment before `run`, so the others cannot keep it waiting for ever. Without
workers nothing is locked."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

ENV = "JOBRUNNER_TEST_LOCKS"
"""The lock files' folder, made by the run's controller and handed to its workers."""


def make_folder() -> Path:
    """For the controller of a parallel run, before its workers start: the folder, also
    named in the environment the workers inherit."""
    path = Path(tempfile.mkdtemp(prefix="jobrunner-tests-"))
    os.environ[ENV] = str(path)
    return path


def folder() -> Path | None:
    """The lock files' folder of this parallel run, or None outside one."""
    named = os.environ.get(ENV)
    return Path(named) if named else None


@contextlib.contextmanager
def turn(where: Path, alone: bool) -> Iterator[None]:
    """Wait for this test's turn: alone (no other test runs) or beside other tests."""
    with open(where / "intent", "a") as intent, open(where / "run", "a") as run:
        fcntl.flock(intent, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            fcntl.flock(run, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            fcntl.flock(intent, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(run, fcntl.LOCK_UN)
