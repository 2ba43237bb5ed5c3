"""The paths of a run's end (BC §2.3-2.8, §3.2, §7): success, inactivity, on hold, a
cancel, a platform retry, a BC retry and a final failure; each returns a Finish (what
the end writes and logs). Pure: no clock, no I/O, no logging."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobrunner import control, errors, lifecycle, model, recurrence, retry

MESSAGE_LIMIT = 2048


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """The runner-wide knobs the decisions need."""

    retry_profile: tuple[timedelta, ...] = ()
    on_final_failure: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class Finish:
    """What the end of a run writes: the entry (None: delete it), the closed log entry,
    events to log, whether to run the failure handler and to activate the category."""

    entry: model.Entry | None
    delete: bool
    log: model.LogEntry
    events: tuple[tuple[str, dict[str, Any]], ...]
    handler: bool = False
    last_attempt: bool = False
    activate: str | None = None


def ended(
    stored: model.Entry,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    settings: Settings,
) -> Finish:
    if outcome.ok:
        return _succeeded(stored, log, outcome, now)
    if outcome.retriable:
        delay = retry.platform_delay(settings.retry_profile, stored.session_retries)
        if delay is not None:
            return _platform_retry(stored, log, outcome, now, delay)
    return _failed(stored, log, outcome, now, settings)


def cancelled(
    stored: model.Entry, log: model.LogEntry, outcome: model.Outcome, now: datetime
) -> Finish:
    """A run ended by `jobrunner cancel`: never retried, no failure handler (the person
    decided); a recurring entry goes on to its next occurrence, a one-off ends in error."""
    by = stored.cancel or "?"
    message = control.CANCELLED.format(user=by)
    closed = close_log(log, now, outcome, error=message)
    base = _idle(stored, now, error_message=message, error_call_stack="", last_result="error")
    if stored.spec.recurring:
        entry = _next(base, log.start_at, now)
    else:
        entry = dataclasses.replace(base, status=model.EntryStatus.ERROR, earliest_start=None)
    return Finish(
        entry=entry,
        delete=False,
        log=closed,
        events=(("run_cancelled", {"by": by, "error": message}),),
        activate=stored.spec.category,
    )


def close_log(
    log: model.LogEntry, now: datetime, outcome: model.Outcome, *, error: str = ""
) -> model.LogEntry:
    """A run's log entry, closed as success or error with the outcome's message."""
    message = error or first_line(outcome.message)
    return dataclasses.replace(
        log,
        end_at=now,
        output=outcome.output,
        status=model.LogStatus.ERROR if message else model.LogStatus.SUCCESS,
        error_message=message,
        error_call_stack=outcome.stack if message else "",
    )


def first_line(message: str) -> str:
    """BC keeps the first line of an error, at most 2048 characters."""
    return (message.strip().splitlines() or [""])[0][:MESSAGE_LIMIT]


def _idle(entry: model.Entry, now: datetime, **changes: Any) -> model.Entry:
    return lifecycle.without_session(entry, now, session_retries=0, **changes)


def _succeeded(
    stored: model.Entry, log: model.LogEntry, outcome: model.Outcome, now: datetime
) -> Finish:
    spec = stored.spec
    closed = close_log(log, now, outcome)
    events: tuple[tuple[str, dict[str, Any]], ...] = (
        ("run_finished", {"execution_time_ms": _ms(now - log.start_at)}),
    )
    activate = spec.category
    if stored.status is model.EntryStatus.ON_HOLD or spec.manual_recurrence:
        held = _idle(
            stored,
            now,
            last_result="success",
            status=model.EntryStatus.ON_HOLD,
            earliest_start=None,
        )
        return Finish(entry=held, delete=False, log=closed, events=events, activate=activate)
    if spec.recurring:
        entry = _idle(stored, now, last_result="success")
        entry = _inactive(entry, now) if outcome.no_activity else _next(entry, log.start_at, now)
    else:
        entry = _idle(
            stored,
            now,
            last_result="success",
            status=model.EntryStatus.FINISHED,
            earliest_start=None,
            attempts=0,
        )
    return Finish(entry=entry, delete=False, log=closed, events=events, activate=activate)


def _ms(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def _inactive(entry: model.Entry, now: datetime) -> model.Entry:
    if entry.spec.inactivity_timeout <= timedelta(0):
        return dataclasses.replace(
            entry, status=model.EntryStatus.ON_HOLD_INACTIVITY, earliest_start=None, attempts=0
        )
    when = recurrence.enqueue_time(recurrence.inactivity_rerun(entry.spec, now), now)
    return dataclasses.replace(
        entry,
        status=model.EntryStatus.ON_HOLD_INACTIVITY,
        earliest_start=when,
        attempts=0,
        last_ready_state=now,
    )


def _next(entry: model.Entry, ran_at: datetime, now: datetime) -> model.Entry:
    scheduled = entry.earliest_start or ran_at
    try:
        when = recurrence.next_run(entry.spec, scheduled, now)
    except errors.RecurrenceError as exc:
        return dataclasses.replace(
            entry, status=model.EntryStatus.ERROR, error_message=str(exc), earliest_start=None
        )
    return dataclasses.replace(
        entry,
        status=model.EntryStatus.READY,
        attempts=0,
        earliest_start=recurrence.enqueue_time(when, now),
    )


def _platform_retry(
    stored: model.Entry,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    delay: timedelta,
) -> Finish:
    retries = stored.session_retries + 1
    entry = dataclasses.replace(
        lifecycle.without_session(stored, now),
        status=model.EntryStatus.READY,
        earliest_start=recurrence.enqueue_time(now + delay, now),
        session_retries=retries,
    )
    closed = close_log(log, now, outcome)
    fields = {
        "error": closed.error_message,
        "retry": retries,
        "cause": outcome.cause,
        "delay_s": _secs(delay),
        "kind": "platform",
    }
    return Finish(entry=entry, delete=False, log=closed, events=(("retry_scheduled", fields),))


def _failed(
    stored: model.Entry,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    settings: Settings,
) -> Finish:
    spec = stored.spec
    closed = close_log(log, now, outcome)
    message = closed.error_message or "The job failed."
    base = _idle(
        stored, now, error_message=message, error_call_stack=outcome.stack, last_result="error"
    )
    failed_event = (
        "run_failed",
        {"error": message, "cause": outcome.cause, "stacktrace": outcome.stack},
    )
    delay = retry.bc_retry(spec.max_retries, stored.attempts, spec.rerun_delay)
    if delay is not None:
        return _bc_retry(base, stored.attempts + 1, closed, failed_event, now, delay)
    final = (
        "run_failed_finally",
        {"error": message, "attempts": stored.attempts, "stacktrace": outcome.stack},
    )
    policy = spec.raw.get("on_final_failure") or settings.on_final_failure or "error"
    entry = dataclasses.replace(base, status=model.EntryStatus.ERROR, earliest_start=None)
    if policy == "next_recurrence" and spec.recurring:
        entry = _next(base, log.start_at, now)
    return Finish(
        entry=entry,
        delete=False,
        log=closed,
        events=(failed_event, final),
        handler=True,
        last_attempt=True,
        activate=spec.category,
    )


def _bc_retry(
    base: model.Entry,
    attempts: int,
    closed: model.LogEntry,
    failed_event: tuple[str, dict[str, Any]],
    now: datetime,
    delay: timedelta,
) -> Finish:
    """A failure with retries left (BC's Maximum No. of Attempts to Run)."""
    entry = dataclasses.replace(
        base,
        status=model.EntryStatus.READY,
        attempts=attempts,
        earliest_start=recurrence.enqueue_time(now + delay, now),
    )
    retry_event = (
        "retry_scheduled",
        {"attempt": attempts, "delay_s": _secs(delay), "kind": "job_queue"},
    )
    return Finish(
        entry=entry,
        delete=False,
        log=closed,
        events=(failed_event, retry_event),
        handler=True,
        activate=base.spec.category,
    )


def _secs(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)
