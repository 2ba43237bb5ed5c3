"""Properties users rely on: run times strictly increase, a fixed-time job never runs
twice on one local date, every result keeps to the run-on days and the window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from jobrunner import recurrence, wallclock
from jobrunner.testing import job

ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe"]
times_of_day = st.one_of(st.none(), st.times().map(lambda t: t.replace(microsecond=0)))
instants = st.datetimes(datetime(2020, 1, 1), datetime(2032, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@st.composite
def bc_recurrences(draw):
    return job(
        recurrence={
            "every": draw(
                st.one_of(st.none(), st.integers(1, 3000).map(lambda m: timedelta(minutes=m)))
            ),
            "run_on": frozenset(draw(st.lists(st.integers(1, 7), min_size=1, unique=True))),
            "starting_time": draw(times_of_day),
            "ending_time": draw(times_of_day),
            "timezone": draw(st.sampled_from(ZONES)),
        }
    )


def _is_transition(instant, tz):
    return (
        instant.astimezone(tz).utcoffset()
        != (instant - timedelta(seconds=1)).astimezone(tz).utcoffset()
    )


@settings(max_examples=300, deadline=None)
@given(bc_recurrences(), instants)
def test_bc_runs_increase_and_keep_days_and_window(spec, start):
    rec = spec.recurrence
    tz = wallclock.zone(rec.timezone)
    at = recurrence.initial_run(spec, start)
    for _ in range(10):
        following = recurrence.next_run(spec, at, at)
        assert following > at
        wall = wallclock.to_wall(following, tz)
        assert wall.isoweekday() in rec.run_on
        if not _is_transition(following, tz):
            assert recurrence.within_window(spec, following)
        at = following


@settings(max_examples=200, deadline=None)
@given(
    st.times().map(lambda t: t.replace(second=0, microsecond=0)), st.sampled_from(ZONES), instants
)
def test_daily_fixed_time_never_runs_twice_on_one_local_date(start_time: time, zone, start):
    spec = job(recurrence={"starting_time": start_time, "timezone": zone})
    tz = wallclock.zone(zone)
    at = recurrence.initial_run(spec, start)
    dates = [at.astimezone(tz).date()]
    for _ in range(8):
        at = recurrence.next_run(spec, at, at)
        dates.append(at.astimezone(tz).date())
    assert len(dates) == len(set(dates))
