"""Five-field cron expressions: parsing and the next matching wall-clock minute.

Pure: stdlib only. Time zones and DST are not handled here but in `wallclock`; this
module works on naive wall-clock datetimes. Day-of-month and day-of-week follow
crontab(5): a field is restricted when it does not start with `*`; when both are, a day
matches if either does, otherwise both must match. `?` is `*` everywhere. Only ASCII
digits are numbers.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from datetime import date, datetime, timedelta

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# name, low, high, names (index + offset = value)
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {n: i + 1 for i, n in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {n: i for i, n in enumerate(_DAYS)}),
)
_TZ_PREFIX = re.compile(r"^\s*(CRON_)?TZ\s*=", re.IGNORECASE)
SEARCH_YEARS = 30
"""How far ahead `next_match` looks before deciding an expression never matches."""


class CronSyntaxError(ValueError):
    """The expression is not valid cron; the message names the field."""


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A parsed expression. `weekdays` uses 0 = Sunday ... 6 = Saturday."""

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    dom_restricted: bool
    """True when the day-of-month field does not start with `*` (crontab(5))."""
    dow_restricted: bool
    interval_like: bool
    """True when the minute or hour field holds `*`, a range or a step (the DST rule)."""


def parse(text: str) -> CronExpr:
    """Parse a 5-field expression or an `@hourly`-style macro."""
    stripped = text.strip()
    if _TZ_PREFIX.match(stripped):
        raise CronSyntaxError(
            "TZ= / CRON_TZ= is not allowed in the expression; set recurrence.timezone instead"
        )
    body = MACROS.get(stripped.lower(), stripped)
    if body.startswith("@"):
        raise CronSyntaxError(f"unknown macro {stripped!r} (known: {', '.join(MACROS)})")
    # `?` is `*` in every rule: the values, the day rule and the DST rule
    parts = body.replace("?", "*").split()
    if len(parts) != 5:
        raise CronSyntaxError(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}"
        )
    sets = [_parse_field(p, *spec) for p, spec in zip(parts, _FIELDS, strict=True)]
    weekdays = frozenset(d % 7 for d in sets[4])
    return CronExpr(
        text=stripped,
        minutes=tuple(sorted(sets[0])),
        hours=tuple(sorted(sets[1])),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        dom_restricted=not parts[2].startswith("*"),
        dow_restricted=not parts[4].startswith("*"),
        interval_like=any(c in p for p in parts[:2] for c in "*-/"),
    )


def _parse_field(text: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    values: set[int] = set()
    for item in text.split(","):
        values |= _parse_item(item, name, low, high, names)
    return values


def _parse_item(item: str, name: str, low: int, high: int, names: dict[str, int]) -> set[int]:
    rng, slash, step_text = item.partition("/")
    step = 1
    if slash:
        step = _number(step_text) or 0
        if step == 0:
            raise CronSyntaxError(f"{name}: step {step_text!r} must be a positive whole number")
    if rng == "*":
        start, end = low, high
    elif "-" in rng:
        a, _, b = rng.partition("-")
        start, end = _value(a, name, low, high, names), _value(b, name, low, high, names)
        if name == "day of week" and end == 0 < start and b.lower() == "sun":
            end = 7  # MON-SUN as 1-7
        if start > end:
            raise CronSyntaxError(f"{name}: range {rng!r} runs backwards")
    else:
        start = _value(rng, name, low, high, names)
        end = high if slash else start
    return set(range(start, end + 1, step))


def _value(text: str, name: str, low: int, high: int, names: dict[str, int]) -> int:
    key = text.lower()
    if key in names:
        return names[key]
    value = _number(text)
    if value is None:
        raise CronSyntaxError(f"{name}: {text!r} is not a number or name")
    if not low <= value <= high:
        raise CronSyntaxError(f"{name}: {value} is out of range {low}-{high}")
    return value


def _number(text: str) -> int | None:
    # ASCII digits only ('²' is a digit to str.isdigit but not to int), and few of them:
    # a value past 9 digits is out of every field's range anyway.
    if not (text.isascii() and text.isdigit()):
        return None
    return int(text) if len(text) <= 9 else 10**9


def day_matches(expr: CronExpr, day: date) -> bool:
    """Whether `day` passes the day-of-month / day-of-week fields (crontab(5)'s rule)."""
    dom = day.day in expr.days
    dow = day.isoweekday() % 7 in expr.weekdays
    if expr.dom_restricted and expr.dow_restricted:
        return dom or dow
    return dom and dow


def matches(expr: CronExpr, wall: datetime) -> bool:
    """Whether the wall-clock minute `wall` is one the expression names."""
    return (
        wall.month in expr.months
        and wall.hour in expr.hours
        and wall.minute in expr.minutes
        and day_matches(expr, wall.date())
    )


def next_match(expr: CronExpr, start: datetime) -> datetime | None:
    """The first matching wall-clock minute at or after `start` (naive), or None if none
    falls within `SEARCH_YEARS` (an impossible date such as 30 February) or before the
    calendar ends (9999-12-31)."""
    try:
        return _next_match(expr, start)
    except OverflowError:  # stepped past 9999-12-31
        return None


def _next_match(expr: CronExpr, start: datetime) -> datetime | None:
    if start.second or start.microsecond:
        start = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    day, hour, minute = start.date(), start.hour, start.minute
    last_year = day.year + SEARCH_YEARS
    while day.year <= last_year:
        if day.month not in expr.months:
            day, hour, minute = _first_of_next_month(day), 0, 0
            continue
        if not day_matches(expr, day):
            day, hour, minute = day + timedelta(days=1), 0, 0
            continue
        h = bisect_left(expr.hours, hour)
        if h == len(expr.hours):
            day, hour, minute = day + timedelta(days=1), 0, 0
            continue
        if expr.hours[h] != hour:
            hour, minute = expr.hours[h], 0
        m = bisect_left(expr.minutes, minute)
        if m == len(expr.minutes):
            if hour == 23:
                day, hour, minute = day + timedelta(days=1), 0, 0
            else:
                hour, minute = hour + 1, 0
            continue
        return datetime(day.year, day.month, day.day, hour, expr.minutes[m])
    return None


def _first_of_next_month(day: date) -> date:
    if day.month == 12:
        if day.year == date.max.year:
            raise OverflowError("date value out of range")
        return date(day.year + 1, 1, 1)
    return date(day.year, day.month + 1, 1)
