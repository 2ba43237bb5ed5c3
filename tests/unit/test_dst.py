"""The one DST rule (peers.md §4.0 R3) for cron and for BC-style wall-clock fields."""

from __future__ import annotations

import itertools
from datetime import time, timedelta

import pytest

from jobrunner import cron, recurrence, wallclock
from jobrunner.testing import job, utc

BERLIN = wallclock.zone("Europe/Berlin")  # 2026-03-29 02:00 -> 03:00; 2026-10-25 03:00 -> 02:00
NEW_YORK = wallclock.zone(
    "America/New_York"
)  # 2026-03-08 02:00 -> 03:00; 2026-11-01 02:00 -> 01:00


def runs(expr: str, tz, after, n):
    parsed, out = cron.parse(expr), []
    for _ in range(n):
        after = recurrence.cron_next(parsed, tz, after)
        out.append(after)
    return out


def test_fixed_time_in_spring_gap_runs_at_first_instant_after_it():
    assert runs("30 2 * * *", BERLIN, utc(2026, 3, 28, 12), 2) == [
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST, the end of the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
    ]


def test_interval_like_times_in_gap_collapse_into_one_run():
    assert runs("*/15 2 * * *", BERLIN, utc(2026, 3, 28, 23), 2) == [
        utc(2026, 3, 29, 1, 0),
        utc(2026, 3, 30, 0, 0),  # 02:00 CEST the next day
    ]


def test_fixed_time_runs_once_in_repeated_hour():
    assert runs("30 2 * * *", BERLIN, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first pass
        utc(2026, 10, 26, 1, 30),  # next day, 02:30 CET
    ]


def test_interval_like_runs_at_both_instants_of_repeated_hour():
    assert runs("30 * * * *", BERLIN, utc(2026, 10, 24, 23, 45), 3) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 1, 30),  # 02:30 CET
        utc(2026, 10, 25, 2, 30),  # 03:30 CET
    ]


def test_interval_like_from_inside_the_first_pass_sees_the_second():
    # after 01:45 EDT (first pass): 01:50 EDT comes before 01:00 EST
    assert runs("*/10 1 * * *", NEW_YORK, utc(2026, 11, 1, 5, 45), 3) == [
        utc(2026, 11, 1, 5, 50),
        utc(2026, 11, 1, 6, 0),
        utc(2026, 11, 1, 6, 10),
    ]


def test_new_york_fixed_time_in_fold_runs_once():
    assert runs("30 1 * * *", NEW_YORK, utc(2026, 10, 31, 12), 2) == [
        utc(2026, 11, 1, 5, 30),  # 01:30 EDT
        utc(2026, 11, 2, 6, 30),  # 01:30 EST
    ]


def test_bc_starting_time_in_gap_follows_the_rule():
    spec = job(recurrence={"starting_time": time(2, 30), "timezone": "Europe/Berlin"})
    completed = utc(2026, 3, 28, 1, 31)  # 02:31 CET
    assert recurrence.next_run(spec, utc(2026, 3, 28, 1, 30), completed) == utc(2026, 3, 29, 1)


def test_bc_starting_time_in_fold_runs_on_the_first_pass():
    spec = job(recurrence={"starting_time": time(2, 30), "timezone": "Europe/Berlin"})
    first = recurrence.next_run(spec, utc(2026, 10, 24, 0, 30), utc(2026, 10, 24, 0, 31))
    assert first == utc(2026, 10, 25, 0, 30)
    assert recurrence.next_run(spec, first, first) == utc(2026, 10, 26, 1, 30)


def test_a_window_that_starts_in_the_repeated_hour_opens_again_in_its_second_pass():
    """Every minute from 01:50 to 02:00 on Sundays, in New York on the day 01:00-02:00
    occurs twice: after the first pass's 01:59 the next run is the second pass's 01:50,
    never the first pass's again (found by the recurrence properties)."""
    spec = job(
        recurrence={
            "every": timedelta(minutes=1),
            "run_on": frozenset({7}),
            "starting_time": time(1, 50),
            "ending_time": time(2, 0),
            "timezone": "America/New_York",
        }
    )
    at = utc(2020, 11, 1, 5, 59)  # 01:59 EDT
    assert recurrence.next_run(spec, at, at) == utc(2020, 11, 1, 6, 50)  # 01:50 EST
    assert recurrence.next_run(spec, utc(2020, 11, 1, 5, 0), utc(2020, 11, 1, 5, 0)) == utc(
        2020, 11, 1, 5, 50
    )  # from before the window, its first pass's 01:50


def test_every_is_elapsed_time_across_fall_back():
    spec = job(recurrence={"every": timedelta(minutes=30), "timezone": "Europe/Berlin"})
    times = list(recurrence.run_times(spec, utc(2026, 10, 25, 0, 15), 4))
    gaps = {b - a for a, b in itertools.pairwise(times)}
    assert gaps == {timedelta(minutes=30)}


def test_window_check_uses_the_zone():
    spec = job(
        recurrence={
            "every": timedelta(minutes=5),
            "starting_time": time(8),
            "ending_time": time(18),
            "timezone": "America/New_York",
        }
    )
    assert recurrence.within_window(spec, utc(2026, 11, 23, 13)) is True  # 08:00 EST
    assert recurrence.within_window(spec, utc(2026, 11, 23, 12, 59)) is False


@pytest.mark.parametrize(
    ("wall", "kind"),
    [
        pytest.param((2026, 3, 29, 2, 30), "gap", id="gap"),
        pytest.param((2026, 10, 25, 2, 30), "fold", id="fold"),
        pytest.param((2026, 7, 1, 2, 30), "normal", id="normal"),
    ],
)
def test_wall_kind(wall, kind):
    from datetime import datetime

    assert wallclock.kind(datetime(*wall), BERLIN) == kind


def test_half_hour_dst_zone_gap():
    lord_howe = wallclock.zone("Australia/Lord_Howe")  # 2026-10-04 02:00 -> 02:30
    assert runs("15 2 * * *", lord_howe, utc(2026, 10, 3, 0), 1) == [
        utc(2026, 10, 3, 15, 30)
    ]  # 02:30 +11:00
