"""Durations and instants as job files, the config and commands write them: `1h30m`,
`250ms`; ISO 8601 date/times (wall time in a zone when they carry no offset). Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta

from jobrunner import problems, wallclock

_DURATION = re.compile(r"(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?")
_UNIT_MS = (86_400_000, 3_600_000, 60_000, 1000, 1)
MAX_DURATION = timedelta(days=36500)
"""The longest duration read (100 years): any instant plus or minus it stays in the calendar."""


def parse_duration(value: str | int) -> timedelta:
    """`30s`, `5m`, `1h30m`, `2d`, `250ms` or 0 -> timedelta; ValueError otherwise."""
    if value in (0, "0"):
        return timedelta(0)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{value!r} is not a duration (examples: 30s, 5m, 1h30m)")
    match = _DURATION.fullmatch(value)
    if match is None:
        raise ValueError(f"{problems.shown(value)} is not a duration (examples: 30s, 5m, 1h30m)")
    longest = MAX_DURATION // timedelta(milliseconds=1)
    # whole milliseconds, in ints: a float or a timedelta of a huge count would overflow
    ms = 0
    for digits, size in zip(match.groups(), _UNIT_MS, strict=True):
        if digits:
            ms += int(digits) * size if len(digits) <= 20 else longest + 1
    if ms > longest:
        raise ValueError(
            f"{problems.shown(value)} is longer than the maximum {format_duration(MAX_DURATION)}"
        )
    return timedelta(milliseconds=ms)


def format_duration(delta: timedelta) -> str:
    """The inverse of parse_duration for display: 5400 s -> '1h30m'."""
    ms = round(delta.total_seconds() * 1000)
    if ms == 0:
        return "0"
    out = ""
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        n, ms = divmod(ms, size)
        if n:
            out += f"{n}{unit}"
    return out + (f"{ms}ms" if ms else "")


def parse_instant(value: str, tz_name: str) -> datetime:
    """An ISO-8601 date/time -> aware UTC; without an offset it is wall time in `tz_name`."""
    parsed = datetime.fromisoformat(value)
    try:
        if parsed.tzinfo is None:
            return wallclock.resolve(parsed, wallclock.zone(tz_name))
        return parsed.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-02:00 is past the calendar's end in UTC
        raise ValueError("outside the years 1 to 9999 in UTC") from None


def parse_time(value: str) -> time:
    return time.fromisoformat(value)


def parse_since(text: str, tz_name: str, now: datetime) -> datetime:
    """`--since`'s rules (the CLI's and the dashboard's): how long ago (`-1h`, `2d`,
    `1h30m`; the sign optional, as journalctl's `-1h`) or an ISO-8601 time (wall time in
    `tz_name` without an offset). ValueError when it is neither."""
    try:
        return now - parse_duration(text.removeprefix("-"))
    except (ValueError, OverflowError):
        pass
    try:
        return parse_instant(text, tz_name)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None
