"""Wall-clock time in a named zone, and the one DST rule every recurrence follows.

Pure: stdlib only (zoneinfo reads the system tz database, which is data, not state).

The rule (the Cronos / Debian cron rule):
  * a wall-clock time that does not exist (the spring-forward gap) maps to the first
    instant after the gap, so such runs are never lost and collapse into one;
  * a wall-clock time that occurs twice (fall-back) maps to its first instant for a
    fixed-time recurrence, and to both instants for an interval-like one.
Instants are timezone-aware UTC datetimes; wall-clock times are naive datetimes.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownZone(ValueError):
    """The name is not an IANA time zone this machine knows."""


@functools.lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """The ZoneInfo for an IANA name; raises UnknownZone for anything else."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        raise UnknownZone(f"{name!r} is not an IANA time zone name (e.g. Europe/Berlin)")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:  # (a name too long, ...)
        raise UnknownZone(f"{name!r} is not a known IANA time zone (e.g. Europe/Berlin)") from exc


def local_zone_name() -> str:
    """The machine's local zone, as cron and systemd timers use it; UTC if unknown."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:  # pragma: no cover - realpath rarely fails
        pass
    for name in candidates:
        try:
            zone(name)
        except UnknownZone:
            continue
        return name
    return "UTC"


def iso(value: datetime | None) -> str | None:
    """An instant as ISO-8601 UTC with `Z` (how events and JSON output write times)."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_wall(instant: datetime, tz: ZoneInfo) -> datetime:
    """The naive wall-clock time of a UTC instant in `tz`."""
    return instant.astimezone(tz).replace(tzinfo=None)


def kind(wall: datetime, tz: ZoneInfo) -> str:
    """'normal', 'gap' (does not exist) or 'fold' (occurs twice) for a wall-clock time."""
    first = wall.replace(tzinfo=tz, fold=0).utcoffset()
    second = wall.replace(tzinfo=tz, fold=1).utcoffset()
    if first == second:
        return "normal"
    assert first is not None
    assert second is not None
    return "fold" if first > second else "gap"


def instants(wall: datetime, tz: ZoneInfo, *, both_folds: bool = False) -> list[datetime]:
    """The UTC instants a wall-clock time stands for under the DST rule, earliest first."""
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    off0, off1 = first.utcoffset(), second.utcoffset()
    assert off0 is not None
    assert off1 is not None
    if off0 == off1:
        return [(wall - off0).replace(tzinfo=UTC)]
    if off0 > off1:  # fold: the first pass has the larger offset
        times = [(wall - off0).replace(tzinfo=UTC)]
        if both_folds:
            times.append((wall - off1).replace(tzinfo=UTC))
        return times
    return [_gap_end(wall, off0, off1, tz)]


def resolve(wall: datetime, tz: ZoneInfo) -> datetime:
    """The one UTC instant of a fixed wall-clock time (gap: after it; fold: first pass)."""
    return instants(wall, tz)[0]


def _gap_end(wall: datetime, before: timedelta, after: timedelta, tz: ZoneInfo) -> datetime:
    # The transition lies in (wall - after, wall - before]; bisect it in whole seconds.
    lo = math.floor((wall - after).replace(tzinfo=UTC).timestamp())
    hi = math.ceil((wall - before).replace(tzinfo=UTC).timestamp())
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if datetime.fromtimestamp(mid, tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
