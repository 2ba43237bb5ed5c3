"""How a time is shown: wall time in a zone, with the zone's name, or how long until it
or since it (as systemctl list-timers shows LEFT and PASSED). Pure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def local(value: datetime | None, tz: ZoneInfo) -> str:
    return "-" if value is None else f"{value.astimezone(tz):%Y-%m-%d %H:%M:%S}"


def zoned(value: datetime | None, tz: ZoneInfo) -> str:
    """As systemctl list-timers shows a time: `Tue 2026-12-01 12:00:00 CET`."""
    if value is None:
        return "-"
    at = value.astimezone(tz)
    return f"{at:%a %Y-%m-%d %H:%M:%S} {at.tzname()}"


def utc(value: datetime | None) -> str:
    """`2026-12-01 12:00:00 UTC`, or `-`."""
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S} UTC"


def seconds(value: timedelta | None) -> str:
    """`12.3s`, or `-`."""
    return "-" if value is None else f"{value.total_seconds():.1f}s"


_US = 1_000_000
_MINUTE, _HOUR, _DAY = 60 * _US, 3600 * _US, 86400 * _US
_WEEK, _MONTH, _YEAR = 7 * _DAY, 2_629_800 * _US, 31_557_600 * _US


# systemd's format_timestamp_relative(): two units at most, coarser as it grows
_SPANS: tuple[tuple[int, Callable[[int], str]], ...] = (
    (_YEAR, lambda us: f"{_plural(us // _YEAR, 'year')} {_plural(us % _YEAR // _MONTH, 'month')}"),
    (_MONTH, lambda us: f"{_plural(us // _MONTH, 'month')} {_plural(us % _MONTH // _DAY, 'day')}"),
    (_WEEK, lambda us: f"{_plural(us // _WEEK, 'week')} {_plural(us % _WEEK // _DAY, 'day')}"),
    (2 * _DAY, lambda us: f"{us // _DAY} days"),
    (25 * _HOUR, lambda us: f"1 day {(us - _DAY) // _HOUR}h"),
    (6 * _HOUR, lambda us: f"{us // _HOUR}h"),
    (_HOUR, lambda us: f"{us // _HOUR}h {us % _HOUR // _MINUTE}min"),
    (5 * _MINUTE, lambda us: f"{us // _MINUTE}min"),
    (_MINUTE, lambda us: f"{us // _MINUTE}min {us % _MINUTE // _US}s"),
    (_US, lambda us: f"{us // _US}s"),
    (1000, lambda us: f"{us // 1000}ms"),
    (0, lambda us: f"{us}us"),
)


def _span(us: int) -> str:
    return next(form(us) for least, form in _SPANS if us >= least)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}{'' if n == 1 else 's'}"


def relative(value: datetime | None, now: datetime) -> str:
    """`4min 10s left`, `2h ago`, `now`, as systemctl list-timers shows LEFT and PASSED."""
    if value is None:
        return "-"
    us = (value - now) // timedelta(microseconds=1)
    if us == 0:
        return "now"
    return f"{_span(abs(us))} {'left' if us > 0 else 'ago'}"
