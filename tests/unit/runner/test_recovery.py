"""Recovery after a crash: the runs a runner that died left in process (MemoryStore,
FakeExecutor, FakeClock; no process, no file)."""

from __future__ import annotations

import dataclasses
import signal
from datetime import timedelta

from jobrunner import model, scheduler
from jobrunner.runner.recovery import Recovery
from jobrunner.testing import job

from .conftest import NOW


def _left_in_process(h, *, pid: int = 4242) -> None:
    """What a runner that died while the entry's job ran left in the store."""
    h.add(job())
    entry = dataclasses.replace(
        h.entry(),
        status=model.EntryStatus.IN_PROCESS,
        session_id="old",
        session_pid=pid,
        runner_id="dead",
    )
    log = model.LogEntry(entry_id="job", start_at=NOW, session_id="old", user="someone")
    logon = model.SessionEvent(
        session_id="old", event="logon", at=NOW, user="someone", entry_id="job", pid=pid
    )
    h.store.commit(
        model.Transition(reason="test", put=(entry,), log_insert=(log,), events=(logon,))
    )


def _recover(h) -> None:
    r = h.runner
    h.clock.advance(timedelta(minutes=1))
    Recovery(r.shared, r.endings, r.commits).recover(h.clock.now(), h.clock.monotonic())


def test_recovery_ends_the_interrupted_run_and_retries_it_on_the_platform_profile(harness):
    h = harness(retry_profile=(timedelta(seconds=30),))
    _left_in_process(h)
    _recover(h)
    entry = h.entry()
    (log,) = h.logs()
    assert (entry.status, entry.session_retries, entry.session_id) == (
        model.EntryStatus.READY,
        1,
        None,
    )
    assert (log.status, log.error_message) == (model.LogStatus.ERROR, scheduler.CRASHED)
    assert h.executor.signals == [(4242, signal.SIGKILL)]  # its session made sure gone
    logoffs = [e for e in h.store.list_sessions() if e.event == "logoff"]
    assert [(e.session_id, e.comment) for e in logoffs] == [("old", scheduler.CRASHED)]


def test_recovery_then_the_entry_runs_again(harness):
    h = harness(retry_profile=(timedelta(seconds=30),))
    _left_in_process(h)
    _recover(h)
    h.tick(timedelta(minutes=1))
    (request,) = h.executor.requests
    assert (request.session_id, h.entry().status) == (h.session_of(), model.EntryStatus.IN_PROCESS)


def test_recovery_without_retries_leaves_the_entry_in_error(harness):
    h = harness()
    _left_in_process(h)
    _recover(h)
    assert (h.entry().status, h.entry().error_message) == (
        model.EntryStatus.ERROR,
        scheduler.CRASHED,
    )
