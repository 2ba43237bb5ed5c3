"""The operator's requests (trigger, cancel, pause): pure decisions of the entry and now."""

from __future__ import annotations

import dataclasses
from datetime import time, timedelta

import pytest

from jobrunner import control, model, scheduler
from jobrunner.testing import job, utc

S = model.EntryStatus
NOW = utc(2026, 11, 21, 10, 25)
HOURLY = {"every": timedelta(hours=1)}
SETTINGS = scheduler.Settings()


def entry(spec, status=S.READY, at=NOW + timedelta(hours=5), **kw):
    return model.Entry(spec=spec, status=status, earliest_start=at, **kw)


def run_it(e, outcome, *, ended=NOW + timedelta(minutes=1)):
    """Dispatch the entry at NOW, start it and end it with `outcome`."""
    decision = scheduler.dispatch(e, NOW, set())
    assert decision.kind == "start"
    running, log = scheduler.started(
        decision.entry, session_id="s", runner_id="r", now=NOW, user="u"
    )
    return scheduler.finished(running, log, outcome, ended, SETTINGS)


OK = model.Outcome(ok=True)
FAIL = model.Outcome(ok=False, message="boom", cause="exception")


# --- trigger ------------------------------------------------------------------------------


def test_trigger_makes_the_entry_due_now_and_keeps_its_schedule():
    e = entry(job(recurrence=HOURLY))
    asked = control.trigger(e, "alice", NOW)
    assert (asked.status, asked.earliest_start) == (S.READY, NOW)
    assert asked.trigger == model.Trigger(
        by="alice", at=NOW, status=S.READY, next_run=NOW + timedelta(hours=5)
    )


def test_trigger_is_refused_for_an_entry_in_process_or_already_triggered():
    with pytest.raises(control.Refused, match="in process"):
        control.trigger(entry(job(), S.IN_PROCESS), "alice", NOW)
    asked = control.trigger(entry(job()), "alice", NOW)
    with pytest.raises(control.Refused, match="already has a run asked for by alice"):
        control.trigger(asked, "bob", NOW)


def test_an_expired_triggered_entry_finishes_and_may_be_triggered_again():
    spec = job(expiration=NOW - timedelta(minutes=1))
    asked = control.trigger(entry(spec), "alice", NOW)
    decision = scheduler.dispatch(asked, NOW, set())
    assert (decision.kind, decision.entry.status, decision.entry.trigger) == (
        "expire",
        S.FINISHED,
        None,
    )
    stale = dataclasses.replace(asked, status=S.ERROR)  # (a store written before the fix)
    assert control.trigger(stale, "bob", NOW).trigger.by == "bob"


def test_a_triggered_run_is_neither_late_nor_outside_its_window():
    spec = job(
        recurrence={
            "every": timedelta(minutes=5),
            "starting_time": time(12),
            "misfire_grace": timedelta(seconds=1),
        }
    )
    asked = control.trigger(entry(spec), "alice", NOW - timedelta(minutes=10))
    assert scheduler.dispatch(asked, NOW, set()).kind == "start"
    assert scheduler.dispatch(entry(spec, at=NOW), NOW, set()).kind == "reschedule"


def test_a_triggered_run_waits_for_its_category():
    asked = control.trigger(entry(job(category="C")), "alice", NOW)
    assert scheduler.dispatch(asked, NOW, {"C"}).kind == "wait"


def test_after_a_triggered_run_the_next_run_is_the_one_it_had():
    finish = run_it(control.trigger(entry(job(recurrence=HOURLY)), "alice", NOW), OK)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.earliest_start, finish.entry.trigger) == (
        S.READY,
        NOW + timedelta(hours=5),
        None,
    )
    assert finish.log.status is model.LogStatus.SUCCESS


def test_after_a_triggered_run_a_next_run_that_passed_is_as_after_a_normal_run():
    e = entry(job(recurrence=HOURLY), at=NOW + timedelta(seconds=30))
    ended = NOW + timedelta(minutes=2)
    finish = run_it(control.trigger(e, "alice", NOW), OK, ended=ended)
    assert finish.entry is not None
    normal = scheduler.finished(
        *scheduler.started(e, session_id="s", runner_id="r", now=NOW, user="u"), OK, ended, SETTINGS
    )
    assert normal.entry is not None
    assert finish.entry.earliest_start == normal.entry.earliest_start
    assert finish.entry.earliest_start > ended


@pytest.mark.parametrize("status", [S.ON_HOLD, S.FINISHED])
def test_a_triggered_entry_on_hold_or_finished_stays_so(status):
    e = entry(job(recurrence=HOURLY), status, at=None)
    finish = run_it(control.trigger(e, "alice", NOW), OK)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.earliest_start) == (status, None)


def test_a_triggered_one_off_keeps_its_pending_run():
    finish = run_it(control.trigger(entry(job()), "alice", NOW), OK)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.earliest_start) == (S.READY, NOW + timedelta(hours=5))


def test_a_retry_of_a_triggered_run_is_still_triggered_and_its_end_restores_the_schedule():
    e = entry(job(recurrence=HOURLY, max_retries=1))
    first = run_it(control.trigger(e, "alice", NOW), FAIL)
    assert first.entry is not None
    assert first.entry.trigger is not None
    assert first.entry.attempts == 1
    retried = dataclasses.replace(first.entry, earliest_start=NOW)
    second = run_it(retried, OK)
    assert second.entry is not None
    assert (second.entry.earliest_start, second.entry.trigger) == (NOW + timedelta(hours=5), None)


def test_a_triggered_run_that_fails_finally_leaves_the_entry_in_error():
    finish = run_it(control.trigger(entry(job(recurrence=HOURLY)), "alice", NOW), FAIL)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.trigger) == (S.ERROR, None)


# --- cancel -------------------------------------------------------------------------------


def running(spec, by="alice", **kw):
    e = entry(spec, at=NOW, **kw)
    started, log = scheduler.started(e, session_id="s", runner_id="r", now=NOW, user="u")
    return control.cancel(started, by, NOW), log


def test_cancel_is_only_for_a_run_in_process_and_once():
    with pytest.raises(control.Refused, match="no run in process"):
        control.cancel(entry(job()), "alice", NOW)
    asked, _ = running(job())
    assert asked.cancel == "alice"
    with pytest.raises(control.Refused, match="being cancelled already"):
        control.cancel(asked, "bob", NOW)


def test_a_cancelled_recurring_run_goes_to_its_next_occurrence_without_retry():
    asked, log = running(job(recurrence=HOURLY, max_retries=3, failure_handler=50101))
    end = NOW + timedelta(minutes=1)
    finish = scheduler.finished(asked, log, control.cancelled("alice"), end, SETTINGS)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.attempts, finish.entry.cancel) == (S.READY, 0, "")
    assert finish.entry.earliest_start == end + timedelta(hours=1)  # from the end, as BC
    assert (finish.log.status, finish.log.error_message) == (
        model.LogStatus.ERROR,
        "Cancelled by alice.",
    )
    assert [name for name, _ in finish.events] == ["run_cancelled"]
    assert finish.events[0][1]["by"] == "alice"
    assert not finish.handler


def test_a_cancelled_one_off_ends_in_error_with_the_message():
    asked, log = running(job(max_retries=3))
    finish = scheduler.finished(asked, log, control.cancelled("alice"), NOW, SETTINGS)
    assert finish.entry is not None
    assert (finish.entry.status, finish.entry.error_message) == (S.ERROR, "Cancelled by alice.")


def test_a_cancel_the_runner_did_not_carry_out_before_it_stopped_still_counts():
    asked, log = running(job(max_retries=3))
    finish = scheduler.finished(asked, log, scheduler.INTERRUPTED, NOW, SETTINGS)
    assert finish.entry is not None
    assert (finish.entry.status, finish.log.error_message) == (S.ERROR, "Cancelled by alice.")


# --- pause --------------------------------------------------------------------------------


def test_pause_and_resume_are_refused_twice():
    p = control.pause([], None, "alice", NOW)
    assert p == model.Pause(category=None, by="alice", at=NOW)
    with pytest.raises(control.Refused, match="the runner is paused already"):
        control.pause([p], None, "bob", NOW)
    assert control.pause([p], "C", "bob", NOW).category == "C"
    with pytest.raises(control.Refused, match="category 'C' is not paused"):
        control.resume([p], "C")
    control.resume([p], None)


def test_paused_categories_and_runner():
    ps = [model.Pause(category=None, by="a", at=NOW), model.Pause(category="C", by="a", at=NOW)]
    assert control.paused_categories(ps) == {"C"}
    assert control.runner_paused(ps) == ps[0]
    assert control.runner_paused(ps[1:]) is None
