"""Cron parsing and matching on wall-clock time, against our own tables and two
independent implementations: croniter and cronsim (which follows Debian's cron).

Where they differ from us, and why:
- croniter ORs day-of-month and day-of-week whenever neither field is a bare `*`, so
  `*/2` counts as restricted there; crontab(5) (and we, and cronsim) look at the first
  character only. The croniter test keeps to day fields without steps.
- cronsim follows Debian's cron across DST: only a field starting with `*` is
  interval-like there (we also count a range or a step), and a `*` field's time in a
  spring-forward gap does not run (we run it at the end of the gap, Cronos' rule). The
  cronsim test compares all expressions in UTC and fixed-time ones in DST zones.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from croniter import croniter
from cronsim import CronSim
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
        pytest.param("\u00b9 * * * *", "minute: '\u00b9' is not a number", id="superscript"),
        pytest.param("\u0663 * * * *", "minute: '\u0663' is not a number", id="arabic-indic"),
        pytest.param("*/\u0663 * * * *", "step '\u0663' must be", id="arabic-indic-step"),
        pytest.param("*/ * * * *", "minute: step '' must be", id="empty-step-star"),
        pytest.param("2/ * * * *", "minute: step '' must be", id="empty-step-value"),
        pytest.param("0-10/ * * * *", "minute: step '' must be", id="empty-step-range"),
        pytest.param("* * * JAN-2/ *", "month: step '' must be", id="empty-step-month"),
        pytest.param("* * * * MON-2/", "day of week: step '' must be", id="empty-step-dow"),
        pytest.param("* * * * SAT-MON", "runs backwards", id="wraps-past-sun"),
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
        pytest.param("0 ? * * *", True, id="question-hour"),
        pytest.param("? 2 * * *", True, id="question-minute"),
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


AFTER = datetime(2026, 11, 21, 0, 1)  # a Saturday


@pytest.mark.parametrize(
    ("text", "start", "expected"),
    [
        # day-of-week */7 starts with *: not restricted, so both fields must match
        pytest.param(
            "1 1 1-7 * */7", datetime(2026, 12, 1), datetime(2026, 12, 6, 1, 1), id="star-step-dow"
        ),
        pytest.param(
            "0 0 */2 * 1", datetime(2026, 11, 21), datetime(2026, 11, 23), id="star-step-dom"
        ),
        # 0-6 covers every day but does not start with *: restricted, so either matches
        pytest.param("0 0 15 * 0-6", AFTER, datetime(2026, 11, 22), id="full-dow"),
        pytest.param("0 0 1-31 * 5", AFTER, datetime(2026, 11, 22), id="full-dom"),
        pytest.param("0 0 1 * ?", datetime(2026, 11, 21), datetime(2026, 12, 1), id="question-dow"),
        pytest.param(
            "0 0 ? * 5", datetime(2026, 11, 21), datetime(2026, 11, 27), id="question-dom"
        ),
        pytest.param("0 0 * * MON-SUN", AFTER, datetime(2026, 11, 22), id="to-sun"),
        pytest.param(
            "0 0 * * SAT-SUN", datetime(2026, 11, 23), datetime(2026, 11, 28), id="weekend"
        ),
    ],
)
def test_day_fields_follow_crontab(text, start, expected):
    assert cron.next_match(cron.parse(text), start) == expected


@pytest.mark.parametrize(
    ("text", "weekdays"),
    [
        pytest.param("mon-sun", {0, 1, 2, 3, 4, 5, 6}, id="mon-sun"),
        pytest.param("1-7", {0, 1, 2, 3, 4, 5, 6}, id="one-seven"),
        pytest.param("sat-sun", {6, 0}, id="sat-sun"),
        pytest.param("sun-sun", {0}, id="sun-sun"),
        pytest.param("sun-tue", {0, 1, 2}, id="sun-tue"),
        pytest.param("mon-sun/2", {1, 3, 5, 0}, id="mon-sun-step"),
    ],
)
def test_day_of_week_ranges(text, weekdays):
    assert cron.parse(f"0 0 * * {text}").weekdays == weekdays


def test_question_mark_is_star():
    star, question = cron.parse("0 * * * *"), cron.parse("0 ? ? * ?")
    assert (question.hours, question.days, question.weekdays) == (
        star.hours,
        star.days,
        star.weekdays,
    )
    assert (question.dom_restricted, question.dow_restricted, question.interval_like) == (
        False,
        False,
        True,
    )


def test_question_mark_runs_the_repeated_hour_as_star_does():
    """Fall back in Berlin: 02:00 local happens twice on 2026-10-25."""
    tz, start = wallclock.zone("Europe/Berlin"), datetime(2026, 10, 24, 23, 30, tzinfo=UTC)

    def runs(text: str) -> list[datetime]:
        at, out = start, []
        for _ in range(4):
            at = recurrence.cron_next(cron.parse(text), tz, at)
            out.append(at)
        return out

    assert runs("0 ? * * *") == runs("0 * * * *")
    assert len({t.astimezone(tz).replace(tzinfo=None) for t in runs("0 * * * *")}) == 3


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


# every field may start with * or not, steps included: crontab(5)'s day rule in full
any_expressions = st.tuples(
    _field(0, 59), _field(0, 23), _field(1, 28), _field(1, 12), _field(0, 6)
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(any_expressions, instants)
def test_agrees_with_cronsim_in_utc(text, start):
    ours = recurrence.cron_next(cron.parse(text), wallclock.zone("UTC"), start)
    assert ours == next(CronSim(text, start.replace(microsecond=0)))


def _fixed_field(low: int, high: int) -> st.SearchStrategy[str]:
    values = st.lists(st.integers(low, high), min_size=1, max_size=3, unique=True)
    return values.map(lambda v: ",".join(map(str, sorted(v))))


# minute and hour without * (and, for Debian, without ranges or steps): the fixed-time rule
fixed_expressions = st.tuples(
    _fixed_field(0, 59), _fixed_field(0, 23), _field(1, 28), _field(1, 12), _field(0, 6)
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(fixed_expressions, st.sampled_from(ZONES), instants)
def test_fixed_time_agrees_with_cronsim_across_dst(text, zone_name, start):
    tz = wallclock.zone(zone_name)
    ours = recurrence.cron_next(cron.parse(text), tz, start)
    theirs = next(CronSim(text, start.replace(microsecond=0).astimezone(tz)))
    assert ours == theirs.astimezone(UTC)


BERLIN_SPRING = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)  # 02:00-03:00 local does not exist
BERLIN_FALL = datetime(2026, 10, 24, 23, 45, tzinfo=UTC)  # 02:00-03:00 local happens twice


@pytest.mark.parametrize(
    ("text", "start"),
    [
        pytest.param("30 2 * * *", BERLIN_SPRING, id="spring-fixed"),
        pytest.param("0,30 2 * * *", BERLIN_SPRING, id="spring-fixed-list"),
        pytest.param("30 2 * * *", BERLIN_FALL, id="fall-fixed"),
        pytest.param("15,45 2 * * *", BERLIN_FALL + timedelta(minutes=30), id="fall-fixed-list"),
    ],
)
def test_fixed_time_dst_agrees_with_cronsim(text, start):
    tz = wallclock.zone("Europe/Berlin")
    ours, theirs, at, it = [], [], start, CronSim(text, start.astimezone(tz))
    for _ in range(3):
        at = recurrence.cron_next(cron.parse(text), tz, at)
        ours.append(at)
        theirs.append(next(it).astimezone(UTC))
    assert ours == theirs


def _utc(hour: int, minute: int, day: int = 29, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "start", "ours", "debian"),
    [
        # a range in the hour field is interval-like here: 02:30 runs at both instants;
        # Debian's cron runs a field without a leading * once
        pytest.param(
            "30 1-3 * * *",
            BERLIN_FALL,
            [_utc(0, 30, 25, 10), _utc(1, 30, 25, 10), _utc(2, 30, 25, 10)],
            [_utc(0, 30, 25, 10), _utc(2, 30, 25, 10), _utc(0, 30, 26, 10)],
            id="range-fall-back",
        ),
        # a * field's time in the gap runs at the end of the gap here; Debian skips it
        pytest.param(
            "30 * * * *",
            BERLIN_SPRING,
            [_utc(0, 30), _utc(1, 0), _utc(1, 30)],
            [_utc(0, 30), _utc(1, 30), _utc(2, 30)],
            id="star-spring-forward",
        ),
    ],
)
def test_where_debian_cron_differs(text, start, ours, debian):
    tz = wallclock.zone("Europe/Berlin")
    mine, at, it = [], start, CronSim(text, start.astimezone(tz))
    for _ in range(3):
        at = recurrence.cron_next(cron.parse(text), tz, at)
        mine.append(at)
    assert mine == ours
    assert [next(it).astimezone(UTC) for _ in range(3)] == debian
