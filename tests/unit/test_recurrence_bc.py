"""BC's worked examples (bc-job-queue.md §1.5), one row per test, in UTC."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from jobrunner import errors, recurrence
from jobrunner.testing import job, utc

MIN = timedelta(minutes=1)
NO_MON_TUE = frozenset({3, 4, 5, 6, 7})


def row(every=None, *, es=None, start=None, end=None, run_on=None, formula=None):
    rec = {"every": every, "starting_time": start, "ending_time": end}
    if run_on is not None:
        rec["run_on"] = frozenset(run_on)
    if formula is not None:
        from jobrunner import dateformula

        rec["date_formula"] = dateformula.parse(formula)
    return job(recurrence=rec, earliest_start=es)


CASES = [
    pytest.param(
        row(60 * MIN), utc(2012, 1, 1, 13), utc(2012, 1, 1, 14), utc(2012, 1, 1, 13), id="60min"
    ),
    pytest.param(row(), utc(2012, 1, 1, 13), utc(2012, 1, 2), utc(2012, 1, 1, 13), id="0min"),
    pytest.param(
        row(es=utc(2012, 1, 1, 9)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 2),
        utc(2012, 1, 1, 13),
        id="0min-earliest-start",
    ),
    pytest.param(
        row(start=time(10)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 2, 10),
        utc(2012, 1, 1, 13),
        id="0min-starting-10",
    ),
    pytest.param(
        row(run_on={7}),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 8),
        utc(2012, 1, 1, 13),
        id="sundays-only",
    ),
    pytest.param(
        row(run_on={7}, start=time(10)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 8, 10),
        utc(2012, 1, 1, 13),
        id="sundays-only-starting-10",
    ),
    pytest.param(
        row(formula="<1D+CM>", start=time(11), es=utc(2012, 3, 31, 13)),
        utc(2012, 3, 31, 13),
        utc(2012, 4, 30, 11),
        utc(2012, 3, 31, 13),
        id="formula-1D+CM",
    ),
    pytest.param(row(30 * MIN), utc(2012, 1, 1, 23, 30), utc(2012, 1, 2), None, id="30min-late"),
    pytest.param(
        row(2880 * MIN), utc(2012, 1, 1, 23, 30), utc(2012, 1, 3, 23, 30), None, id="2880min"
    ),
    pytest.param(
        row(60 * MIN), utc(2012, 1, 1, 23, 30), utc(2012, 1, 2, 0, 30), None, id="60min-late"
    ),
    pytest.param(
        row(60 * MIN, start=time(10)),
        utc(2012, 1, 1, 23, 30),
        utc(2012, 1, 2, 10),
        utc(2012, 1, 1, 23, 30),
        id="60min-starting-10",
    ),
    pytest.param(
        row(60 * MIN, run_on=NO_MON_TUE, start=time(10)),
        utc(2012, 1, 1, 23, 30),
        utc(2012, 1, 4, 10),
        utc(2012, 1, 1, 23, 30),
        id="mon-tue-off-starting-10",
    ),
    pytest.param(
        row(60 * MIN, run_on=NO_MON_TUE),
        utc(2012, 1, 1, 23, 30),
        utc(2012, 1, 4),
        None,
        id="mon-tue-off-no-start",
    ),
    pytest.param(
        row(60 * MIN, run_on=NO_MON_TUE, start=time(0, 15)),
        utc(2012, 1, 1, 23, 30),
        utc(2012, 1, 4, 0, 15),
        None,
        id="mon-tue-off-starting-0015",
    ),
    pytest.param(
        row(30 * MIN, end=time(13, 30)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 1, 13, 30),
        utc(2012, 1, 1, 13),
        id="ending-inclusive",
    ),
    pytest.param(
        row(60 * MIN, end=time(13, 30)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 2),
        None,
        id="past-ending",
    ),
    pytest.param(
        row(60 * MIN, start=time(10), end=time(13, 30)),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 2, 10),
        utc(2012, 1, 1, 13),
        id="window",
    ),
    pytest.param(
        row(60 * MIN, start=time(10), end=time(13, 30), run_on=NO_MON_TUE),
        utc(2012, 1, 1, 13),
        utc(2012, 1, 4, 10),
        utc(2012, 1, 1, 13),
        id="window-mon-tue-off",
    ),
    pytest.param(
        row(60 * MIN, start=time(13), end=time(13, 30), run_on={3, 5, 6}),
        utc(2012, 1, 1, 12),
        utc(2012, 1, 4, 13),
        utc(2012, 1, 4, 13),
        id="window-wed-fri-sat",
    ),
    pytest.param(
        row(60 * MIN, start=time(13), end=time(13, 30), run_on={3, 5, 6}),
        utc(2012, 1, 4, 13),
        utc(2012, 1, 6, 13),
        None,
        id="window-wed-fri-sat-again",
    ),
    pytest.param(
        row(
            5 * MIN, start=time(11), end=time(12), run_on={1, 2, 3, 4, 5, 6}, es=utc(2015, 1, 4, 10)
        ),
        utc(2015, 1, 5, 9),
        utc(2015, 1, 5, 11),
        utc(2015, 1, 5, 11),
        id="sunday-off-earliest-start-sunday",
    ),
    pytest.param(
        row(10 * MIN, start=time(22), end=time(2)),
        utc(2012, 1, 1, 23, 55),
        utc(2012, 1, 2, 0, 5),
        None,
        id="across-midnight-inside",
    ),
    pytest.param(
        row(10 * MIN, start=time(22), end=time(2)),
        utc(2012, 1, 1, 20),
        utc(2012, 1, 1, 22),
        utc(2012, 1, 1, 22),
        id="across-midnight-before",
    ),
    pytest.param(
        row(start=time(23, 59, 50), end=time(23, 59, 59), es=utc(2012, 1, 1, 23, 59, 50)),
        utc(2012, 1, 2, 0, 0, 10),
        utc(2012, 1, 2, 23, 59, 50),
        utc(2012, 1, 2, 23, 59, 50),
        id="ten-second-window",
    ),
    pytest.param(
        row(43200 * MIN), utc(2012, 1, 1, 23, 30), utc(2012, 1, 31, 23, 30), None, id="43200min"
    ),
]


@pytest.mark.parametrize(("spec", "start", "expected_next", "expected_initial"), CASES)
def test_bc_worked_example(spec, start, expected_next, expected_initial):
    assert recurrence.next_run(spec, spec.earliest_start, start) == expected_next
    if expected_initial is not None:
        assert recurrence.initial_run(spec, start) == expected_initial


def test_minutes_are_64_bit():
    spec = row(2**31 * MIN)
    assert recurrence.next_run(spec, None, utc(2012, 1, 1)) == utc(2012, 1, 1) + 2**31 * MIN


def test_date_out_of_range_is_bc_error():
    spec = row(2**33 * MIN)
    with pytest.raises(errors.RecurrenceError, match=r"The date is not valid\."):
        recurrence.next_run(spec, None, utc(2012, 1, 1))


def test_next_run_of_one_off_is_an_error():
    with pytest.raises(errors.RecurrenceError, match="Recurring Job must have a value"):
        recurrence.next_run(job(), None, utc(2012, 1, 1))


@pytest.mark.parametrize(
    ("start", "end", "at", "inside"),
    [
        pytest.param(None, None, time(3), True, id="no-window"),
        pytest.param(time(22), time(2), time(23), True, id="cross-late"),
        pytest.param(time(22), time(2), time(1, 59), True, id="cross-early"),
        pytest.param(time(22), time(2), time(2), True, id="cross-end-inclusive"),
        pytest.param(time(22), time(2), time(12), False, id="cross-outside"),
        pytest.param(time(10), time(13, 30), time(10), True, id="start-inclusive"),
        pytest.param(time(10), time(13, 30), time(13, 31), False, id="after-end"),
        pytest.param(time(10), time(10), time(11), True, id="start-equals-end"),
        pytest.param(time(10), None, time(9, 59), False, id="only-start"),
        pytest.param(None, time(10), time(10, 1), False, id="only-end"),
        pytest.param(time(0), None, time(0), True, id="midnight-is-a-set-time"),
    ],
)
def test_within_window(start, end, at, inside):
    spec = row(5 * MIN, start=start, end=end)
    assert recurrence.within_window(spec, utc(2012, 1, 1, at.hour, at.minute)) is inside


def test_inactivity_rerun_is_window_adjusted():
    spec = job(
        recurrence={"every": 5 * MIN, "ending_time": time(13, 30)},
        inactivity_timeout=timedelta(hours=1),
    )
    assert recurrence.inactivity_rerun(spec, utc(2012, 1, 1, 13)) == utc(2012, 1, 2)


def test_enqueue_clamps_to_one_second_after_now():
    now = utc(2012, 1, 1, 13)
    assert recurrence.enqueue_time(utc(2012, 1, 1), now) == now + timedelta(seconds=1)
    assert recurrence.enqueue_time(utc(2012, 1, 2), now) == utc(2012, 1, 2)


def test_one_off_initial_is_earliest_start_when_later():
    spec = job(earliest_start=utc(2030, 1, 1))
    assert recurrence.initial_run(spec, utc(2026, 1, 1)) == utc(2030, 1, 1)
    assert recurrence.initial_run(spec, utc(2031, 1, 1)) == utc(2031, 1, 1)


def test_run_times_stop_at_expiration():
    spec = job(recurrence={"every": timedelta(hours=1)}, expiration=utc(2026, 1, 1, 2, 30))
    times = list(recurrence.run_times(spec, utc(2026, 1, 1), 10))
    assert times == [utc(2026, 1, 1, 0, 0, 1), utc(2026, 1, 1, 1, 0, 1), utc(2026, 1, 1, 2, 0, 1)]
