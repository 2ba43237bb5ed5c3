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
