"""Dispatcher decisions: pure functions of the entry and now."""

from __future__ import annotations

from datetime import time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jobrunner import dateformula, model, recurrence, retry, scheduler
from jobrunner.testing import job, utc

S = model.EntryStatus
NOW = utc(2026, 11, 21, 10, 25)


def entry(spec, status=S.READY, at=NOW, **kw):
    return model.Entry(spec=spec, status=status, earliest_start=at, **kw)


@pytest.mark.parametrize("status", [S.ON_HOLD, S.ERROR, S.FINISHED, S.IN_PROCESS])
def test_not_runnable_is_skipped(status):
    assert scheduler.dispatch(entry(job(), status), NOW, set()).kind == "skip"


def test_expired_is_finished():
    decision = scheduler.dispatch(entry(job(expiration=NOW - timedelta(seconds=1))), NOW, set())
    assert (decision.kind, decision.entry.status, decision.entry.earliest_start) == (
        "expire",
        S.FINISHED,
        None,
    )


def test_busy_category_waits():
    decision = scheduler.dispatch(entry(job(category="C")), NOW, {"C"})
    assert (decision.kind, decision.entry.status) == ("wait", S.WAITING)
    assert scheduler.dispatch(entry(job(category="C")), NOW, {"D"}).kind == "start"


def test_outside_window_moves_to_the_window_start():
    spec = job(recurrence={"every": timedelta(minutes=5), "starting_time": time(12)})
    decision = scheduler.dispatch(entry(spec), NOW, set())
    assert (decision.kind, decision.entry.earliest_start) == ("reschedule", utc(2026, 11, 21, 12))


def test_formula_entry_outside_its_starting_time_waits_for_its_next_date():
    spec = job(recurrence={"date_formula": dateformula.parse("1D+CM"), "starting_time": time(23)})
    decision = scheduler.dispatch(entry(spec), NOW, set())
    assert decision.entry.earliest_start == utc(2026, 11, 30, 23)


def test_formula_entry_first_runs_at_its_next_formula_date():
    spec = job(recurrence={"date_formula": dateformula.parse("1D+CM"), "starting_time": time(23)})
    assert recurrence.initial_run(spec, NOW) == utc(2026, 11, 30, 23)


windows = st.one_of(st.none(), st.times().map(lambda t: t.replace(second=0, microsecond=0)))


@settings(max_examples=300, deadline=None)
@given(
    windows,
    windows,
    st.booleans(),
    st.datetimes(
        min_value=NOW.replace(tzinfo=None), max_value=NOW.replace(tzinfo=None) + timedelta(days=30)
    ),
)
def test_a_window_reschedule_never_lands_outside_the_window(start, end, formula, at):
    rec = {"starting_time": start, "ending_time": end}
    if formula:
        rec["date_formula"] = dateformula.parse("1D")
    else:
        rec["every"] = timedelta(minutes=7)
    spec = job(recurrence=rec)
    now = at.replace(tzinfo=NOW.tzinfo)
    decision = scheduler.dispatch(entry(spec, at=now), now, set())
    if decision.kind == "reschedule":
        assert decision.entry.earliest_start > now
        assert recurrence.within_window(spec, decision.entry.earliest_start)


@pytest.mark.parametrize(
    ("attempts", "expected"),
    [
        (0, timedelta(milliseconds=10)),
        (1, timedelta(milliseconds=100)),
        (2, timedelta(seconds=1)),
        (3, timedelta(seconds=10)),
        (4, timedelta(seconds=100)),
        (5, timedelta(seconds=1000)),
        (6, timedelta(seconds=10000)),
        (7, timedelta(hours=6)),
        (9, timedelta(hours=6)),
    ],
)
def test_bc_retry_delay_table(attempts, expected):
    assert retry.bc_retry(10, attempts, timedelta(0)) == expected


def test_bc_retry_counts_retries_after_the_first_run():
    assert retry.bc_retry(2, 0, timedelta(seconds=5)) == timedelta(seconds=5, milliseconds=10)
    assert retry.bc_retry(2, 2, timedelta(0)) is None
    assert retry.bc_retry(0, 0, timedelta(0)) is None
    assert retry.bc_retry(10, 10, timedelta(0)) is None


@pytest.mark.parametrize(
    ("names", "message", "patterns", "expected"),
    [
        (["builtins:ConnectionError"], "x", ["ConnectionError"], True),
        (["pkg.mod:Flaky", "builtins:ConnectionError"], "x", ["ConnectionError"], True),
        (["pkg.mod:RateLimited"], "x", ["pkg.mod:RateLimited"], True),
        (["pkg.mod:RateLimited"], "slow down", ["pkg.mod:RateLimited:slow"], True),
        (["pkg.mod:RateLimited"], "other", ["pkg.mod:RateLimited:slow"], False),
        (["builtins:TimeoutError"], "reset", ["TimeoutError:reset"], True),
        (["builtins:ValueError"], "x", ["ConnectionError", "TimeoutError"], False),
    ],
)
def test_retriable_exception_patterns(names, message, patterns, expected):
    assert retry.is_retriable(names, message, patterns) is expected


def test_platform_profile():
    profile = (timedelta(seconds=1), timedelta(seconds=2))
    assert [retry.platform_delay(profile, n) for n in range(3)] == [*profile, None]


LOG = model.LogEntry(entry_id="job", start_at=NOW, session_id="s1", attempt=1)
OK = model.Outcome(ok=True)
BOOM = model.Outcome(ok=False, message="boom\nmore", stack="Traceback ...", cause="exception")
SETTINGS = scheduler.Settings(retry_profile=(timedelta(minutes=2), timedelta(minutes=4)))
LATER = NOW + timedelta(seconds=3)


def running(spec, **kw):
    return entry(spec, S.IN_PROCESS, session_id="s1", **kw)


def test_success_of_a_one_off_finishes_it():
    fin = scheduler.finished(running(job()), LOG, OK, LATER, SETTINGS)
    assert (fin.entry.status, fin.entry.earliest_start, fin.log.status) == (
        S.FINISHED,
        None,
        model.LogStatus.SUCCESS,
    )
    assert fin.events[0][0] == "run_finished"
    assert fin.events[0][1]["execution_time_ms"] == 3000


def test_success_of_a_recurring_entry_books_the_next_run_from_completion():
    spec = job(recurrence={"every": timedelta(hours=1)})
    fin = scheduler.finished(running(spec, attempts=2), LOG, OK, LATER, SETTINGS)
    assert (fin.entry.status, fin.entry.attempts) == (S.READY, 0)
    assert fin.entry.earliest_start == LATER + timedelta(hours=1)
    assert fin.entry.session_id is None


def test_entry_deleted_during_the_run():
    fin = scheduler.finished(None, LOG, OK, LATER, SETTINGS)
    assert (fin.log.status, fin.log.error_message) == (model.LogStatus.ERROR, scheduler.DELETED)


def test_on_hold_during_the_run_stays_on_hold():
    spec = job(recurrence={"every": timedelta(hours=1)})
    fin = scheduler.finished(entry(spec, S.ON_HOLD, session_id="s1"), LOG, OK, LATER, SETTINGS)
    assert (fin.entry.status, fin.log.status) == (S.ON_HOLD, model.LogStatus.SUCCESS)


@pytest.mark.parametrize(
    "outcome",
    [OK, BOOM, model.Outcome(ok=False, retriable=True)],
    ids=["success", "failure-with-retries", "retriable"],
)
def test_file_removed_during_the_run_deletes_after_it_whatever_happened(outcome):
    spec = job(max_retries=3)
    fin = scheduler.finished(running(spec, remove_after_run=True), LOG, outcome, LATER, SETTINGS)
    assert fin.delete is True


def test_failure_with_retries_left_is_ready_after_the_backoff():
    spec = job(max_retries=2, rerun_delay=timedelta(seconds=30))
    fin = scheduler.finished(running(spec), LOG, BOOM, LATER, SETTINGS)
    assert (fin.entry.status, fin.entry.attempts, fin.entry.error_message) == (S.READY, 1, "boom")
    assert fin.entry.earliest_start == LATER + timedelta(seconds=30, milliseconds=10)
    assert fin.handler is True
    assert fin.last_attempt is False
    assert [name for name, _ in fin.events] == ["run_failed", "retry_scheduled"]


def test_final_failure_is_error_and_the_last_attempt():
    spec = job(max_retries=2, category="C")
    fin = scheduler.finished(running(spec, attempts=2), LOG, BOOM, LATER, SETTINGS)
    assert (fin.entry.status, fin.entry.earliest_start) == (S.ERROR, None)
    assert fin.log.error_call_stack == "Traceback ..."
    assert (fin.last_attempt, fin.activate) == (True, "C")
    assert [name for name, _ in fin.events] == ["run_failed", "run_failed_finally"]


def test_retriable_failure_uses_the_platform_profile_then_the_failure_path():
    retriable = model.Outcome(ok=False, message="reset", cause="exception", retriable=True)
    first = scheduler.finished(running(job()), LOG, retriable, LATER, SETTINGS)
    assert (first.entry.status, first.entry.session_retries, first.entry.attempts) == (
        S.READY,
        1,
        0,
    )
    assert first.entry.earliest_start == LATER + timedelta(minutes=2)
    assert first.handler is False
    spent = scheduler.finished(running(job(), session_retries=2), LOG, retriable, LATER, SETTINGS)
    assert spent.entry.status is S.ERROR


def test_inactive_recurring_run_is_held_for_the_inactivity_timeout():
    spec = job(recurrence={"every": timedelta(minutes=1)}, inactivity_timeout=timedelta(hours=1))
    idle = model.Outcome(ok=True, no_activity=True)
    fin = scheduler.finished(running(spec), LOG, idle, LATER, SETTINGS)
    assert (fin.entry.status, fin.entry.earliest_start) == (
        S.ON_HOLD_INACTIVITY,
        LATER + timedelta(hours=1),
    )


def test_waiting_activation_skips_expired_and_keeps_the_earliest_start():
    expired = entry(job(id="x", expiration=NOW - timedelta(1)), S.WAITING)
    waiting = entry(job(id="y"), S.WAITING, at=NOW - timedelta(minutes=5))
    first, gone = scheduler.activation([expired, waiting], NOW)
    assert (first.id, first.status, first.earliest_start) == ("y", S.READY, waiting.earliest_start)
    assert [(e.id, e.status) for e in gone] == [("x", S.FINISHED)]
