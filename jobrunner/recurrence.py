"""When an entry runs: Business Central's run-time algorithms, and cron, in a time zone.

Pure: functions of (entry, instant) with no clock reads, I/O or logging. Instants are
aware UTC datetimes. BC's algorithms (bc-job-queue.md §1.3-1.5) are kept verbatim on
naive wall-clock times in the entry's zone (`window_adjust`, `bc_*`), and the public
functions wrap them: `every` is elapsed time, wall-clock results follow the DST rule of
`wallclock`.

  initial_run   A  when an entry is (re)made ready
  next_run      B  after a run that completed at an instant
  inactivity_rerun  C  after a run that reported no activity
  window_adjust D  move a candidate into the run-on days and the daily window
  within_window E  whether an instant is inside the daily window (dispatcher check)
  jitter_offset    how much later an occurrence starts (recurrence.jitter, beyond BC)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from jobrunner import cron, dateformula, errors, model, wallclock

ENQUEUE_MARGIN = timedelta(seconds=1)
"""BC Enqueue: an earliest start is never sooner than now + 1 s."""

_MIDNIGHT = time(0)
_DATE_INVALID = "The date is not valid."


# --- BC's algorithms on wall-clock time (bc-job-queue.md §1.4, §1.5) -------------------


def starting_datetime(rec: model.Recurrence, wall: datetime) -> datetime:
    """GetStartingDateTime: the date of `wall` at the starting time (blank: 00:00)."""
    return datetime.combine(wall.date(), rec.starting_time or _MIDNIGHT)


def ending_datetime(rec: model.Recurrence, wall: datetime) -> datetime:
    """GetEndingDateTime: the end of the window that starts on `wall`'s date."""
    start, end = rec.starting_time, rec.ending_time
    if end is None:
        return datetime.combine(wall.date(), _MIDNIGHT)
    if start is None or start < end:
        return datetime.combine(wall.date(), end)
    return datetime.combine(wall.date() + timedelta(days=1), end)


def _crosses_midnight(rec: model.Recurrence) -> bool:
    # A blank starting time compares lowest, so it never crosses.
    start, end = rec.starting_time, rec.ending_time
    return end is not None and start is not None and start > end


def window_adjust(rec: model.Recurrence, wall: datetime) -> datetime:
    """Algorithm D (CalcRunTimeForRecurringJob): the candidate moved into the window
    and the run-on days, step by step as BC does it."""
    t, s, days = wall.time(), wall, 0
    start, end = rec.starting_time, rec.ending_time
    cross = _crosses_midnight(rec)
    past_end = not cross and end is not None and t > end
    if (cross and start is not None and end is not None and end < t < start) or past_end:
        s = starting_datetime(rec, s)
    if past_end:
        days += 1
    weekday = wall.isoweekday()
    found = (weekday - 1 + days) % 7 + 1 in rec.run_on
    extra = 0
    while not found and extra < 7:
        extra += 1
        days += 1
        found = (weekday - 1 + days) % 7 + 1 in rec.run_on
    if (not cross and start is not None and s < starting_datetime(rec, s)) or (
        cross and s > ending_datetime(rec, s)
    ):
        s = starting_datetime(rec, s)
    if days > 0 and s > starting_datetime(rec, s):
        s = starting_datetime(rec, s)
    if start is None and extra > 0 and rec.every is not None:
        s = datetime.combine(s.date(), _MIDNIGHT)
    if found and days > 0:
        s = s + timedelta(days=days)
    return s


def within_window_wall(rec: model.Recurrence, t: time) -> bool:
    """Algorithm E (IsWithinStartEndTime) on a time of day; the weekday does not matter."""
    start, end = rec.starting_time, rec.ending_time
    if start is None and end is None:
        return True
    if end is not None and start is not None and start > end:
        return t >= start or t <= end
    if start is not None and end is not None and start != end:
        return start <= t <= end
    if start is not None:
        return t >= start
    assert end is not None
    return t <= end


# --- the public, zone-aware functions ---------------------------------------------------


def _tz(spec: model.JobSpec) -> ZoneInfo:
    tz_name = spec.recurrence.timezone if spec.recurrence else spec.timezone
    return wallclock.zone(tz_name)


def _plus(instant: datetime, delta: timedelta) -> datetime:
    try:
        return instant + delta
    except OverflowError as exc:
        raise errors.RecurrenceError(_DATE_INVALID) from exc


def _adjust_instant(rec: model.Recurrence, candidate: datetime, tz: ZoneInfo) -> datetime:
    # D on the candidate's wall-clock time; an unchanged wall keeps the exact instant
    # (so elapsed intervals run at both instants of a repeated hour). A wall time moved
    # forward runs at its first instant, unless the candidate is in the second pass of a
    # repeated hour and that instant lies before it (a window that starts in the hour):
    # then at its second, so a run never goes back before its candidate.
    wall = wallclock.to_wall(candidate, tz)
    adjusted = window_adjust(rec, wall)
    if adjusted == wall:
        return candidate
    found = wallclock.instants(adjusted, tz, both_folds=True)
    return next((t for t in found if t >= candidate), found[0])


def initial_run(spec: model.JobSpec, now: datetime) -> datetime:
    """Algorithm A (CalcInitialRunTime) at `now`: the earliest start when it is later,
    else `now`, window-adjusted for BC-style recurrences and moved to the next
    matching minute for cron. Formula and one-off entries get no adjustment, except
    that a formula entry without an earliest start begins at the formula's next run."""
    base = spec.earliest_start if spec.earliest_start and spec.earliest_start > now else now
    rec = spec.recurrence
    if rec is not None and rec.date_formula is not None and spec.earliest_start is None:
        # BC: validating a formula on an entry with no earliest start sets it to the
        # formula's next run, so a month-end job does not run the moment it is added.
        return next_run(spec, None, now)
    if rec is None or rec.date_formula is not None:
        return base
    if rec.cron is not None:
        found = cron_next(rec.cron, wallclock.zone(rec.timezone), base - timedelta(microseconds=1))
        if found is None:
            raise errors.RecurrenceError(f"cron {rec.cron.text!r} never matches")
        return found
    return _adjust_instant(rec, base, _tz(spec))


def next_run(
    spec: model.JobSpec, earliest_start: datetime | None, completed_at: datetime
) -> datetime:
    """Algorithm B (CalcNextRunTimeForRecurringJob): the next run of a recurring entry
    whose run completed at `completed_at`; `earliest_start` is the entry's current one
    (the run that just ended). The caller clamps the result with `enqueue_time`."""
    rec = spec.recurrence
    if rec is None:
        raise errors.RecurrenceError("Recurring Job must have a value.")
    tz = wallclock.zone(rec.timezone)
    if rec.cron is not None:
        found = cron_next(rec.cron, tz, completed_at)
        if found is None:
            raise errors.RecurrenceError(f"cron {rec.cron.text!r} never matches again")
        return found
    if rec.date_formula is not None:
        day = wallclock.to_wall(completed_at, tz).date()
        try:
            target = dateformula.evaluate(rec.date_formula, day)
        except (OverflowError, ValueError) as exc:
            raise errors.RecurrenceError(_DATE_INVALID) from exc
        return wallclock.resolve(datetime.combine(target, rec.starting_time or _MIDNIGHT), tz)
    if rec.every is not None:
        return _adjust_instant(rec, _plus(completed_at, rec.every), tz)
    reference = earliest_start or completed_at
    day = wallclock.to_wall(reference, tz).date()
    try:
        wall = datetime.combine(day + timedelta(days=1), _MIDNIGHT)
    except OverflowError as exc:
        raise errors.RecurrenceError(_DATE_INVALID) from exc
    return wallclock.resolve(window_adjust(rec, wall), tz)


def inactivity_rerun(spec: model.JobSpec, now: datetime) -> datetime:
    """Algorithm C (CalcNextRunTimeHoldDuetoInactivityJob): now + the inactivity
    timeout, window-adjusted when the entry has a BC-style recurrence."""
    candidate = _plus(now, spec.inactivity_timeout)
    rec = spec.recurrence
    if rec is None or rec.cron is not None or rec.date_formula is not None:
        return candidate
    return _adjust_instant(rec, candidate, _tz(spec))


def within_window(spec: model.JobSpec, now: datetime) -> bool:
    """Algorithm E at an instant: whether `now` is inside the entry's daily window."""
    rec = spec.recurrence
    if rec is None or (rec.starting_time is None and rec.ending_time is None):
        return True
    return within_window_wall(rec, wallclock.to_wall(now, wallclock.zone(rec.timezone)).time())


def enqueue_time(candidate: datetime, now: datetime) -> datetime:
    """BC Enqueue's clamp: never sooner than now + 1 s."""
    return max(candidate, now + ENQUEUE_MARGIN)


def run_times(spec: model.JobSpec, start: datetime, count: int) -> Iterator[datetime]:
    """The entry's next `count` run times as the runner would compute them: the
    initial run at `start`, then each next run after a run that completed at the
    previous time (each clamped as Enqueue does). Stops at the expiration."""
    at = enqueue_time(initial_run(spec, start), start)
    for _ in range(count):
        if spec.expiration is not None and at > spec.expiration:
            return
        yield at
        if spec.recurrence is None:
            return
        at = enqueue_time(next_run(spec, at, at), at)


# --- jitter (systemd's RandomizedDelaySec) ------------------------------------------------

_MS = timedelta(milliseconds=1)


def jitter_offset(spec: model.JobSpec, at: datetime, salt: str) -> timedelta:
    """How much later than its occurrence `at` the entry starts: a fraction of
    `jitter_limit` that is a hash of the entry id, the occurrence and `salt` (what makes
    hosts differ), so the same inputs give the same offset in every process, after a
    restart too, and the core stays free of a random source. Whole milliseconds."""
    limit = jitter_limit(spec, at)
    if limit <= timedelta(0):
        return timedelta(0)
    key = f"{spec.id}\0{at.isoformat()}\0{salt}".encode()
    fraction = int.from_bytes(hashlib.sha256(key).digest()[:8], "big") / 2**64
    return (limit * fraction) // _MS * _MS


def jitter_limit(spec: model.JobSpec, at: datetime) -> timedelta:
    """The largest delay of the occurrence `at`: `recurrence.jitter`, cut so the run
    stays inside the daily window (1 s before its ending time), strictly before the next
    occurrence, and on its day when the window has no ending time (it ends at midnight)
    or the entry has a date formula (its next run is counted from the day it ran).
    Zero when there is no jitter or `at` is outside the window."""
    rec = spec.recurrence
    if rec is None or rec.jitter is None or not within_window(spec, at):
        return timedelta(0)
    limit = rec.jitter
    try:
        following = next_run(spec, at, at)
    except errors.RecurrenceError:
        following = None
    if following is not None and following > at:
        limit = min(limit, following - at - _MS)
    end = _jitter_end(rec, at)
    if end is not None:
        limit = min(limit, end - at)
    return max(limit, timedelta(0))


def _jitter_end(rec: model.Recurrence, at: datetime) -> datetime | None:
    if rec.cron is not None:
        return None
    tz = wallclock.zone(rec.timezone)
    wall = wallclock.to_wall(at, tz)
    if rec.ending_time is not None:
        day = wall.date()
        if _crosses_midnight(rec) and wall.time() > rec.ending_time:
            day += timedelta(days=1)
        return wallclock.resolve(datetime.combine(day, rec.ending_time), tz) - ENQUEUE_MARGIN
    if rec.starting_time is not None or rec.date_formula is not None:
        midnight = datetime.combine(wall.date() + timedelta(days=1), _MIDNIGHT)
        return wallclock.resolve(midnight, tz) - _MS
    return None


# --- cron in a zone -----------------------------------------------------------------------

_SCAN_MARGIN = timedelta(hours=4)  # wider than any DST shift


def cron_next(expr: cron.CronExpr, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The first instant strictly after `after` that `expr` names in `tz`, under the DST
    rule (interval-like expressions run at both instants of a repeated hour)."""
    local = after.astimezone(tz)
    wall = local.replace(tzinfo=None)
    floor = wall.replace(second=0, microsecond=0)
    if wallclock.kind(floor, tz) == "normal":
        candidate = cron.next_match(expr, floor)
        while candidate is not None:
            if wallclock.kind(candidate, tz) != "normal":
                break
            instant = wallclock.resolve(candidate, tz)
            if instant > after:
                return instant
            candidate = cron.next_match(expr, candidate + timedelta(minutes=1))
        else:
            return None
    return _cron_next_near_transition(expr, tz, after, floor)


def _cron_next_near_transition(
    expr: cron.CronExpr, tz: ZoneInfo, after: datetime, floor: datetime
) -> datetime | None:
    # Near a transition wall-clock order and instant order differ: look at every match
    # from a margin before `after` and keep the earliest instant after it.
    best: datetime | None = None
    candidate = cron.next_match(expr, floor - _SCAN_MARGIN)
    while candidate is not None:
        if best is not None and candidate > wallclock.to_wall(best, tz) + _SCAN_MARGIN:
            break
        for instant in wallclock.instants(candidate, tz, both_folds=expr.interval_like):
            if instant > after and (best is None or instant < best):
                best = instant
        candidate = cron.next_match(expr, candidate + timedelta(minutes=1))
    return best
