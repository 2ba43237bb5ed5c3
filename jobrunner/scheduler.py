"""Pure dispatcher decisions (BC's Job Queue Dispatcher and Error Handler, §2-3, §5).

Functions of (entry, outcome, now, settings) that return what should happen, with the
event name to log; the runner carries them out. No clock, no I/O, no logging.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobrunner import control, errors, lifecycle, model, recurrence, retry, taskflow

RUNNABLE = (
    model.EntryStatus.READY,
    model.EntryStatus.WAITING,
    model.EntryStatus.ON_HOLD_INACTIVITY,
)
DELETED = "The job queue entry has been deleted."
CRASHED = "The runner stopped while the job was running."
MESSAGE_LIMIT = 2048
MISFIRE_CAP = 10_000


@dataclass(frozen=True, kw_only=True, slots=True)
class Settings:
    """The runner-wide knobs the decisions need."""

    retry_profile: tuple[timedelta, ...] = ()
    on_final_failure: str | None = None


class Act(enum.StrEnum):
    """What a dispatch decision does with a due entry (its value is the transition's
    reason)."""

    SKIP = "skip"
    EXPIRE = "expire"
    RESCHEDULE = "reschedule"
    MISFIRE = "misfire"
    WAIT = "wait"
    START = "start"


@dataclass(frozen=True, kw_only=True, slots=True)
class Decision:
    """What to do with a due entry: `entry` as it is to be written, the event to log."""

    kind: Act
    entry: model.Entry
    event: str = ""
    fields: dict[str, Any] = field(default_factory=dict)


def dispatch(entry: model.Entry, now: datetime, busy: Set[str]) -> Decision:
    """What to do with an entry picked up as due at `now`; `busy` holds the categories
    with a run in process."""
    spec = entry.spec
    if entry.status not in RUNNABLE:
        return Decision(kind=Act.SKIP, entry=entry)
    if spec.expiration is not None and spec.expiration < now:
        done = dataclasses.replace(
            entry,
            status=model.EntryStatus.FINISHED,
            earliest_start=None,
            trigger=None,
            updated_at=now,
        )
        return Decision(kind=Act.EXPIRE, entry=done, event="entry_expired")
    if entry.trigger is not None:  # asked for now: neither late nor outside its window
        if spec.category and spec.category in busy:
            waiting = dataclasses.replace(entry, status=model.EntryStatus.WAITING, updated_at=now)
            return Decision(kind=Act.WAIT, entry=waiting, event="entry_waiting")
        return Decision(kind=Act.START, entry=entry)
    grace = spec.recurrence.misfire_grace if spec.recurrence else None
    due = lifecycle.due_at(entry)  # (jittered: the grace counts from the delayed start)
    if grace is not None and entry.earliest_start and due and now - due > grace:
        # Too late: skip to the next occurrence after now, as if a run had just ended.
        missed = missed_runs(spec, entry.earliest_start, now)
        moved = _at(entry, recurrence.next_run(spec, entry.earliest_start, now), now)
        return Decision(
            kind=Act.MISFIRE,
            entry=moved,
            event="misfire",
            fields={"skipped": missed, "late_by_s": _secs(now - due)},
        )
    if not recurrence.within_window(spec, now):
        when = recurrence.initial_run(spec, now)
        if not recurrence.within_window(spec, when):  # (formula entries get no window
            when = recurrence.next_run(spec, entry.earliest_start, now)  # adjustment)
        moved = _at(entry, when, now)
        return Decision(kind=Act.RESCHEDULE, entry=moved, event="rescheduled_for_window")
    if spec.category and spec.category in busy:
        waiting = dataclasses.replace(entry, status=model.EntryStatus.WAITING, updated_at=now)
        return Decision(kind=Act.WAIT, entry=waiting, event="entry_waiting")
    return Decision(kind=Act.START, entry=entry)


def _at(entry: model.Entry, when: datetime, now: datetime) -> model.Entry:
    return dataclasses.replace(
        entry,
        status=model.EntryStatus.READY
        if entry.status is model.EntryStatus.WAITING
        else entry.status,
        earliest_start=recurrence.enqueue_time(when, now),
        updated_at=now,
    )


def _secs(delta: timedelta) -> float:
    return round(delta.total_seconds(), 3)


def missed_runs(spec: model.JobSpec, since: datetime, now: datetime) -> int:
    """How many occurrences fell between a missed earliest start and `now` (capped)."""
    if spec.recurrence is None:
        return 1
    count, at = 0, since
    while at < now and count < MISFIRE_CAP:
        count += 1
        at = recurrence.next_run(spec, at, at)
    return count


def started(
    entry: model.Entry, *, session_id: str, runner_id: str, now: datetime, user: str
) -> tuple[model.Entry, model.LogEntry]:
    """The entry in process and its in-process log entry (committed before the session)."""
    spec = entry.spec
    running = dataclasses.replace(
        entry,
        status=model.EntryStatus.IN_PROCESS,
        session_id=session_id,
        session_pid=None,
        session_started=None,
        runner_id=runner_id,
        last_run_at=now,
        updated_at=now,
    )
    log = model.LogEntry(
        entry_id=spec.id,
        start_at=now,
        user=user,
        object_type=spec.object_type,
        object_id=str(spec.object_id),
        parameter_string=spec.parameter_string,
        description=spec.description,
        category=spec.category or "",
        session_id=session_id,
        attempt=entry.attempts + 1,
        system_task_id=entry.system_task_id or "",
    )
    return running, log


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


def finished(
    stored: model.Entry | None,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    settings: Settings,
) -> Finish:
    """BC's end of a run (§2.3-2.8) and its failure path (§2.7, §3.2, §7)."""
    if stored is None:
        closed = close_log(log, now, outcome, error=DELETED)
        return Finish(
            entry=None, delete=False, log=closed, events=(("run_failed", {"error": DELETED}),)
        )
    if outcome.cause is model.Cause.CANCELLED or (stored.cancel and not outcome.ok):
        finish = _cancelled(stored, log, outcome, now)
    else:
        finish = _ended(stored, log, outcome, now, settings)
    if finish.entry is not None and (stored.trigger is not None or stored.cancel):
        retried = any(name == "retry_scheduled" for name, _ in finish.events)
        after = control.after_trigger(finish.entry, retried, now)
        finish = dataclasses.replace(finish, entry=dataclasses.replace(after, cancel=""))
    if stored.remove_after_run:  # its job file is gone: whatever happened, it goes now
        return dataclasses.replace(finish, delete=True)
    return finish


def _ended(
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


def _cancelled(
    stored: model.Entry, log: model.LogEntry, outcome: model.Outcome, now: datetime
) -> Finish:
    """A run ended by `jobrunner cancel`: never retried, no failure handler (the person
    decided); a recurring entry goes on to its next occurrence, a one-off ends in error."""
    by = stored.cancel or "?"
    message = control.CANCELLED.format(user=by)
    closed = close_log(log, now, outcome, error=message)
    base = dataclasses.replace(
        _idle(stored, now),
        error_message=message,
        error_call_stack="",
        last_result="error",
    )
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


def _idle(entry: model.Entry, now: datetime) -> model.Entry:
    return dataclasses.replace(lifecycle.without_session(entry, now), session_retries=0)


def _succeeded(
    stored: model.Entry, log: model.LogEntry, outcome: model.Outcome, now: datetime
) -> Finish:
    spec = stored.spec
    closed = close_log(log, now, outcome)
    events: tuple[tuple[str, dict[str, Any]], ...] = (
        ("run_finished", {"execution_time_ms": _ms(now - log.start_at)}),
    )
    entry = dataclasses.replace(_idle(stored, now), last_result="success")
    activate = spec.category
    if stored.status is model.EntryStatus.ON_HOLD or spec.manual_recurrence:
        held = dataclasses.replace(entry, status=model.EntryStatus.ON_HOLD, earliest_start=None)
        return Finish(entry=held, delete=False, log=closed, events=events, activate=activate)
    if outcome.no_activity and spec.recurring:
        entry = _inactive(entry, now)
    elif spec.recurring:
        entry = _next(entry, log.start_at, now)
    else:
        entry = dataclasses.replace(
            entry, status=model.EntryStatus.FINISHED, earliest_start=None, attempts=0
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
    base = dataclasses.replace(
        _idle(stored, now),
        error_message=message,
        error_call_stack=outcome.stack,
        last_result="error",
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


def activation(
    waiting: Sequence[model.Entry], now: datetime
) -> tuple[model.Entry | None, list[model.Entry]]:
    """BC §5.3: the first waiting entry (priority, then FIFO) that has not expired goes
    back to ready at its original earliest start; expired ones are finished."""
    expired = []
    for entry in waiting:
        if entry.spec.expiration is not None and entry.spec.expiration < now:
            expired.append(
                dataclasses.replace(
                    entry,
                    status=model.EntryStatus.FINISHED,
                    earliest_start=None,
                    trigger=None,
                    updated_at=now,
                )
            )
            continue
        return dataclasses.replace(entry, status=model.EntryStatus.READY, updated_at=now), expired
    return None, expired


@dataclass(frozen=True, kw_only=True, slots=True)
class RunEnd:
    """The whole end of a run: its Finish, the entry its category activates (with the
    waiting ones that expired meanwhile), its failure-handler task, and the entries it
    writes (`put`) and deletes (id, expected version)."""

    finish: Finish
    activated: model.Entry | None = None
    expired: tuple[model.Entry, ...] = ()
    handler: model.Task | None = None
    put: tuple[model.Entry, ...] = ()
    delete: tuple[tuple[str, int], ...] = ()


def run_end(
    stored: model.Entry | None,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    settings: Settings,
    *,
    waiting: Sequence[model.Entry] | None = None,
) -> RunEnd:
    """`finished`, made whole: `waiting` holds the waiting entries of the run's category
    in activation order when the category may activate one (no other run of it in
    process, not paused), else None."""
    finish = finished(stored, log, outcome, now, settings)
    activated, expired = None, list[model.Entry]()
    if finish.activate and waiting is not None:
        activated, expired = activation(waiting, now)
    handler = None
    if finish.handler and stored is not None:
        handler = taskflow.handler_task(
            stored, finish.log, outcome, last_attempt=finish.last_attempt
        )
    put: list[model.Entry] = []
    delete: tuple[tuple[str, int], ...] = ()
    if finish.entry is not None and stored is not None:
        if finish.delete:
            delete = ((stored.id, stored.version),)
        else:
            put.append(finish.entry)
    put += expired + ([activated] if activated else [])
    return RunEnd(
        finish=finish,
        activated=activated,
        expired=tuple(expired),
        handler=handler,
        put=tuple(put),
        delete=delete,
    )


INTERRUPTED = model.Outcome(
    ok=False, message=CRASHED, cause=model.Cause.INTERRUPTED, retriable=True
)
"""The outcome of a run whose session is gone because the runner stopped."""


def task_ended(
    task: model.Task, outcome: model.Outcome, now: datetime, profile: Sequence[timedelta]
) -> tuple[model.Task | None, str]:
    """The Task Scheduler's end of a task session (BC §7.2): the task as it goes on (None:
    it is gone) and the event to log. Success removes it; a retriable failure (and any
    failure of a failure object) is re-run on the platform profile; any other failure
    of the main object hands the task to its failure object, with the error."""
    if outcome.ok:
        return None, "task_finished"
    idle = dataclasses.replace(task, session_id=None)
    if outcome.retriable or task.phase == model.Phase.FAILURE:
        delay = retry.platform_delay(profile, task.attempts)
        if delay is not None:
            return dataclasses.replace(
                idle, attempts=task.attempts + 1, not_before=now + delay
            ), "task_retry_scheduled"
    if task.phase == model.Phase.MAIN and task.failure_object:
        error = taskflow.failure_error(
            entry_id=task.entry_id,
            message=first_line(outcome.message),
            stack=outcome.stack,
            attempt=task.attempts + 1,
            last_attempt=True,
            task=task,
        )
        return taskflow.handed_to_failure_object(task, error, now), "task_failure_object_scheduled"
    return None, "task_failed"
