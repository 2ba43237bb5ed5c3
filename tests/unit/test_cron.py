"""Cron parsing and matching on wall-clock time; croniter is the independent oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from jobrunner import cron, recurrence, wallclock


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("* * * *", "expected 5 fields", id="four-fields"),
        pytest.param("60 * * * *", "minute: 60 is out of range 0-59", id="minute-range"),
        pytest.param("* 24 * * *", "hour: 24 is out of range 0-23", id="hour-range"),
        pytest.param("* * 0 * *", "day of month: 0 is out of range 1-31", id="dom-range"),
        pytest.param("*/0 * * * *", "step '0' must be a positive", id="zero-step"),
        pytest.param("5-1 * * * *", "runs backwards", id="backwards"),
        pytest.param("* * * foo *", "month: 'foo' is not a number or name", id="bad-name"),
        pytest.param("TZ=UTC 0 * * * *", "TZ= / CRON_TZ= is not allowed", id="tz-prefix"),
        pytest.param("CRON_TZ=Europe/Berlin 0 0 * * *", "not allowed", id="cron-tz-prefix"),
        pytest.param("@fortnightly", "unknown macro", id="unknown-macro"),
    ],
)
def test_parse_errors_name_the_field(text, message):
    with pytest.raises(cron.CronSyntaxError, match=message):
        cron.parse(text)


@pytest.mark.parametrize(
    ("text", "interval_like"),
    [
        pytest.param("30 2 * * *", False, id="fixed"),
        pytest.param("0,30 2 * * *", False, id="fixed-list"),
        pytest.param("0 * * * *", True, id="every-hour"),
        pytest.param("*/15 2 * * *", True, id="step"),
        pytest.param("0 2-4 * * *", True, id="range"),
        pytest.param("@daily", False, id="daily"),
        pytest.param("@hourly", True, id="hourly"),
    ],
)
def test_interval_like(text, interval_like):
    assert cron.parse(text).interval_like is interval_like


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        pytest.param("0 0 13 * 5", datetime(2026, 11, 21), datetime(2026, 11, 27), id="or-friday"),
        pytest.param("0 0 13 * 5", datetime(2026, 12, 5), datetime(2026, 12, 11), id="or-fri2"),
        pytest.param("0 0 13 * 5", datetime(2026, 12, 12), datetime(2026, 12, 13), id="or-13th"),
        pytest.param("0 0 * * 5", datetime(2026, 11, 21), datetime(2026, 11, 27), id="dow-only"),
        pytest.param("0 0 * * 7", datetime(2026, 11, 21), datetime(2026, 11, 22), id="seven-sun"),
        pytest.param(
            "0 9 * jan-mar mon-fri", datetime(2026, 11, 21), datetime(2027, 1, 1, 9), id="names"
        ),
        pytest.param("@monthly", datetime(2026, 11, 21), datetime(2026, 12, 1), id="monthly"),
        pytest.param("0 0 29 2 *", datetime(2026, 3, 1), datetime(2028, 2, 29), id="leap-day"),
        pytest.param(
            "59 23 31 12 *",
            datetime(2026, 12, 31, 23, 59),
            datetime(2026, 12, 31, 23, 59),
            id="inclusive",
        ),
    ],
)
def test_next_match(text, start, expected):
    assert cron.next_match(cron.parse(text), start) == expected


def test_impossible_date_never_matches():
    assert cron.next_match(cron.parse("0 0 30 2 *"), datetime(2026, 1, 1)) is None


def _field(low: int, high: int, full_ok: bool = True) -> st.SearchStrategy[str]:
    values = st.lists(st.integers(low, high), min_size=1, max_size=4, unique=True)
    choices = [
        values.map(lambda v: ",".join(map(str, sorted(v)))),
        # croniter reads a one-value range such as 0-0 as the whole field; keep to real ranges
        st.tuples(st.integers(low, high), st.integers(low, high))
        .filter(lambda t: t[0] != t[1])
        .map(lambda t: f"{min(t)}-{max(t)}"),
    ]
    if full_ok:
        choices += [st.just("*"), st.integers(2, 7).map(lambda s: f"*/{s}")]
    return st.one_of(*choices)


expressions = st.tuples(
    _field(0, 59),
    _field(0, 23),
    st.one_of(st.just("*"), _field(1, 28, full_ok=False)),
    st.one_of(st.just("*"), _field(1, 12, full_ok=False)),
    st.one_of(st.just("*"), _field(0, 5, full_ok=False)),
).map(" ".join)
instants = st.datetimes(datetime(2020, 1, 1), datetime(2032, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=300, deadline=None)
@given(expressions, instants)
def test_agrees_with_croniter_in_utc(text, start):
    ours = recurrence.cron_next(cron.parse(text), wallclock.zone("UTC"), start)
    theirs = croniter(text, start.replace(tzinfo=None)).get_next(datetime)
    assert ours == theirs.replace(tzinfo=UTC)


ZONES = [
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "UTC",
    "Australia/Sydney",
]


def _is_transition(instant: datetime, tz) -> bool:
    return (
        instant.astimezone(tz).utcoffset()
        != (instant - timedelta(seconds=1)).astimezone(tz).utcoffset()
    )


@settings(max_examples=200, deadline=None)
@given(expressions, st.sampled_from(ZONES), instants)
def test_cron_runs_strictly_increase_and_match(text, zone_name, start):
    expr, tz = cron.parse(text), wallclock.zone(zone_name)
    at = start
    for _ in range(12):
        following = recurrence.cron_next(expr, tz, at)
        assert following is not None
        assert following > at
        wall = wallclock.to_wall(following, tz)
        assert cron.matches(expr, wall) or _is_transition(following, tz)
        at = following


fixed_times = st.tuples(st.integers(0, 59), st.integers(0, 23)).map(
    lambda t: f"{t[0]} {t[1]} * * *"
)


@settings(max_examples=200, deadline=None)
@given(fixed_times, st.sampled_from(ZONES), instants)
def test_fixed_time_cron_never_runs_twice_on_one_local_date(text, zone_name, start):
    expr, tz = cron.parse(text), wallclock.zone(zone_name)
    dates, at = [], start
    for _ in range(8):
        at = recurrence.cron_next(expr, tz, at)
        dates.append(at.astimezone(tz).date())
    assert len(dates) == len(set(dates))
