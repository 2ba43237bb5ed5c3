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

from jobrunner import control, finishing, lifecycle, model, recurrence, taskflow

RUNNABLE = (
    model.EntryStatus.READY,
    model.EntryStatus.WAITING,
    model.EntryStatus.ON_HOLD_INACTIVITY,
)
DELETED = "The job queue entry has been deleted."
CRASHED = "The runner stopped while the job was running."
Settings = finishing.Settings  # (the runner-wide knobs; kept here for the callers)
MISFIRE_CAP = 10_000


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


def finished(
    stored: model.Entry | None,
    log: model.LogEntry,
    outcome: model.Outcome,
    now: datetime,
    settings: finishing.Settings,
) -> finishing.Finish:
    """BC's end of a run (§2.3-2.8) and its failure path (§2.7, §3.2, §7)."""
    if stored is None:
        closed = finishing.close_log(log, now, outcome, error=DELETED)
        return finishing.Finish(
            entry=None, delete=False, log=closed, events=(("run_failed", {"error": DELETED}),)
        )
    if outcome.cause == model.Cause.CANCELLED or (stored.cancel and not outcome.ok):
        finish = finishing.cancelled(stored, log, outcome, now)
    else:
        finish = finishing.ended(stored, log, outcome, now, settings)
    if finish.entry is not None and (stored.trigger is not None or stored.cancel):
        retried = any(name == "retry_scheduled" for name, _ in finish.events)
        after = control.after_trigger(finish.entry, retried, now)
        finish = dataclasses.replace(finish, entry=dataclasses.replace(after, cancel=""))
    if stored.remove_after_run:  # its job file is gone: whatever happened, it goes now
        return dataclasses.replace(finish, delete=True)
    return finish


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
    """The whole end of a run: its finishing.Finish, the entry its category activates (with the
    waiting ones that expired meanwhile), its failure-handler task, and the entries it
    writes (`put`) and deletes (id, expected version)."""

    finish: finishing.Finish
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
    settings: finishing.Settings,
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
