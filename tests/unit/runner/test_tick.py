"""One pass of the loop (`Runner.tick`) over MemoryStore, a FakeExecutor and a
FakeClock: the README's two outcome tables, category waiting and activation, retries,
timeouts, refused starts."""

from __future__ import annotations

import signal
from datetime import time, timedelta

import pytest

from jobrunner import model, scheduler
from jobrunner.testing import job

from .conftest import NOW

Status = model.EntryStatus
FAILED = 256  # wait status: exit status 1, no result
SECOND = timedelta(seconds=1)


# --- For each due entry -------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.ON_HOLD, Status.ERROR, Status.FINISHED])
def test_tick_not_runnable_is_nothing(harness, status):
    h = harness()
    h.add(job(), status=status)
    h.tick()
    assert (h.entry().status, h.executor.requests, h.logs()) == (status, [], [])


def test_tick_past_expiration_is_finished_without_a_log_entry(harness):
    h = harness()
    h.add(job(expiration=NOW - SECOND))
    h.tick()
    assert (h.entry().status, h.executor.requests, h.logs()) == (Status.FINISHED, [], [])


def test_tick_later_than_misfire_grace_skips_to_the_next_occurrence(harness):
    h = harness()
    spec = job(recurrence={"every": timedelta(hours=1), "misfire_grace": timedelta(minutes=1)})
    h.add(spec, earliest_start=NOW - timedelta(minutes=30))
    h.tick()
    entry = h.entry()
    assert (entry.status, h.executor.requests, h.logs()) == (Status.READY, [], [])
    assert entry.earliest_start is not None
    assert entry.earliest_start > NOW


def test_tick_outside_its_window_is_rescheduled(harness):
    h = harness()
    window = {"every": timedelta(hours=1), "starting_time": time(12), "ending_time": time(13)}
    h.add(job(recurrence=window))
    h.tick()
    entry = h.entry()
    assert (entry.status, h.executor.requests) == (Status.READY, [])
    assert entry.earliest_start is not None
    assert entry.earliest_start.hour == 12


def test_tick_due_entry_is_in_process_with_a_log_entry_then_its_session_starts(harness):
    h = harness()
    h.add(job(parameter_string="p"))
    h.tick()
    (request,) = h.executor.requests
    (log,) = h.logs()
    assert (h.entry().status, log.status) == (Status.IN_PROCESS, model.LogStatus.IN_PROCESS)
    assert (request.ref, request.refusal, request.parameter, request.attempt) == (
        "tests.entrypoints.jobs:ok",
        "",
        "p",
        1,
    )
    assert request.session_id == h.session_of()
    h.tick()  # its logon: the pid on the entry
    assert h.entry().session_pid == h.executor.pids[request.session_id]


def test_tick_unresolved_object_ends_the_run_without_a_session(harness):
    h = harness()
    h.add(job(object_id=99999))
    h.tick()
    (log,) = h.logs()
    assert h.executor.requests == []
    assert (h.entry().status, log.status) == (Status.ERROR, model.LogStatus.ERROR)


# --- When the run ends ----------------------------------------------------------------------


def _ran(h, status: int = 0, entry_id: str = "job") -> None:
    h.tick()  # started
    h.tick(SECOND)  # logged on
    h.executor.exit(h.session_of(entry_id), status)
    h.tick(SECOND)  # ended


def test_tick_success_one_off_is_finished(harness):
    h = harness()
    h.add(job())
    _ran(h)
    (log,) = h.logs()
    assert (h.entry().status, h.entry().attempts, log.status) == (
        Status.FINISHED,
        0,
        model.LogStatus.SUCCESS,
    )
    assert h.entry().session_id is None


def test_tick_success_recurring_goes_on_to_its_next_run(harness):
    h = harness()
    h.add(job(recurrence={"every": timedelta(hours=1)}))
    _ran(h)
    entry = h.entry()
    assert (entry.status, entry.attempts) == (Status.READY, 0)
    assert entry.earliest_start is not None
    assert entry.earliest_start > NOW + timedelta(minutes=59)


def test_tick_set_on_hold_during_the_run_stays_on_hold(harness):
    h = harness()
    h.add(job())
    h.tick()
    h.change(status=Status.ON_HOLD)
    h.tick(SECOND)
    h.executor.exit(h.session_of())
    h.tick(SECOND)
    assert (h.entry().status, h.logs()[0].status) == (Status.ON_HOLD, model.LogStatus.SUCCESS)


def test_tick_entry_deleted_during_the_run_logs_an_error(harness):
    h = harness()
    h.add(job())
    h.tick()
    session_id = h.session_of()
    entry = h.entry()
    h.store.commit(model.Transition(reason="test", delete=((entry.id, entry.version),)))
    h.executor.exit(session_id)
    h.tick(SECOND)
    (log,) = h.logs()
    assert (log.status, log.error_message) == (model.LogStatus.ERROR, scheduler.DELETED)


def test_tick_job_file_deleted_during_the_run_removes_the_entry_after_it(harness):
    h = harness()
    h.add(job())
    h.tick()
    h.change(remove_after_run=True)
    h.executor.exit(h.session_of())
    h.tick(SECOND)
    assert (h.store.get_entry("job"), h.logs()[0].status) == (None, model.LogStatus.SUCCESS)


def test_tick_failure_with_retries_left_is_ready_after_its_rerun_delay(harness):
    h = harness()
    h.add(job(max_retries=2, rerun_delay=timedelta(minutes=5)))
    _ran(h, FAILED)
    entry = h.entry()
    (log,) = h.logs()
    assert (entry.status, entry.attempts, log.status) == (Status.READY, 1, model.LogStatus.ERROR)
    assert log.error_message == "The session exited with status 1 without a result."
    assert entry.earliest_start is not None
    assert entry.earliest_start >= NOW + timedelta(minutes=5)


def test_tick_failure_without_retries_left_is_error(harness):
    h = harness()
    h.add(job(max_retries=1), attempts=1)
    _ran(h, FAILED)
    assert (h.entry().status, h.entry().error_message) == (
        Status.ERROR,
        "The session exited with status 1 without a result.",
    )


def test_tick_retry_runs_again_once_due(harness):
    h = harness()
    h.add(job(max_retries=1, rerun_delay=timedelta(seconds=10)))
    _ran(h, FAILED)
    h.tick(timedelta(seconds=5))
    assert len(h.executor.requests) == 1  # not due yet
    h.tick(timedelta(minutes=1))
    assert (len(h.executor.requests), h.executor.requests[1].attempt) == (2, 2)


def test_tick_failed_start_is_retried_on_the_platform_profile(harness):
    h = harness(retry_profile=(timedelta(seconds=30),))
    h.add(job())
    h.executor.refuse_starts = True
    h.tick()
    entry = h.entry()
    (log,) = h.logs()
    assert (entry.status, entry.session_retries, log.status) == (
        Status.READY,
        1,
        model.LogStatus.ERROR,
    )
    h.executor.refuse_starts = False
    h.tick(timedelta(minutes=1))
    assert len(h.executor.requests) == 1


def test_tick_failure_handler_runs_with_the_error(harness):
    h = harness()
    h.add(job(failure_handler=50100))
    _ran(h, FAILED)
    h.tick()  # the handler's task is due at the run's end
    (_, handler) = h.executor.requests
    assert handler.error is not None
    assert (handler.error["entry_id"], handler.error["last_attempt"]) == ("job", True)
    assert handler.error["message"] == "The session exited with status 1 without a result."


# --- categories -----------------------------------------------------------------------------


def test_tick_category_busy_waits_then_is_activated_when_the_run_ends(harness):
    h = harness()
    h.add(job(id="a", category="C"))
    h.add(job(id="b", category="C"), earliest_start=NOW + SECOND)
    h.tick()
    h.tick(timedelta(seconds=2))
    assert (h.entry("a").status, h.entry("b").status) == (Status.IN_PROCESS, Status.WAITING)
    h.executor.exit(h.session_of("a"))
    h.tick(SECOND)
    assert h.entry("b").status in (Status.READY, Status.IN_PROCESS)
    h.tick(SECOND)
    assert h.entry("b").status is Status.IN_PROCESS
    assert [r.entry["id"] for r in h.executor.requests] == ["a", "b"]


# --- timeouts -------------------------------------------------------------------------------


def test_tick_session_past_its_timeout_is_ended_and_fails(harness):
    h = harness()
    h.add(job(timeout=timedelta(seconds=30)))
    h.tick()
    h.tick(SECOND)  # logged on: it has a pid to signal
    pid = h.entry().session_pid
    h.tick(timedelta(seconds=28))
    assert h.executor.signals == []
    h.tick(timedelta(seconds=2))  # past its timeout: SIGTERM (it ends by it)
    assert h.executor.signals == [(pid, signal.SIGTERM)]
    h.tick(SECOND)
    (log,) = h.logs()
    assert log.status is model.LogStatus.ERROR
    assert log.error_message == "The job ran longer than its timeout of 30s and was ended."


def test_tick_cancelled_run_is_ended_and_not_retried(harness):
    h = harness()
    h.add(job(max_retries=3))
    h.tick()
    h.tick(SECOND)  # logged on
    pid = h.entry().session_pid
    h.change(cancel="alice")
    h.runner.housekeeping.requests(h.clock.monotonic())  # as a command's wake asks
    assert h.executor.signals == [(pid, signal.SIGTERM)]
    h.tick(SECOND)
    entry = h.entry()
    assert (entry.status, entry.attempts, entry.error_message) == (
        Status.ERROR,
        0,
        "Cancelled by alice.",
    )


def test_tick_an_executor_that_dies_while_collected_is_replaced_in_the_same_pass(harness):
    """The fork server's end of file is read by a collect: the pass that read it ends
    the runs as interrupted and replaces it (nothing else would wake the runner)."""
    h = harness(retry_profile=(timedelta(seconds=30),))
    h.add(job())
    h.tick()
    assert h.entry().status is Status.IN_PROCESS
    h.executor.dies_collecting = True
    h.tick()
    entry = h.entry()
    assert (entry.status, entry.session_retries) == (Status.READY, 1)
    (log,) = h.logs()
    assert log.error_message == "The runner stopped while the job was running."


def test_sleep_prepares_the_next_entry_due_later_once_a_worker_is_free(harness):
    """With time to spare the executor gets ready for the next entry due later; not while
    every worker is busy (that session's end comes first, and prepares it then)."""
    h = harness(workers=1)
    h.add(job(id="now"))
    h.add(job(id="later"), earliest_start=NOW + timedelta(minutes=5))
    h.tick()  # "now" runs: every worker is busy
    runner, clock = h.runner, h.clock
    assert runner.timing.sleep_for(clock.now(), clock.monotonic()) > 0
    assert h.executor.prepared == []
    h.executor.exit(h.session_of("now"))
    h.tick()
    assert runner.timing.sleep_for(clock.now(), clock.monotonic()) > 60
    assert h.executor.prepared == ["tests.entrypoints.jobs:ok"]
