"""Pure entry transitions of BC's table 472 (Insert + Enqueue, the Ready path, SetStatus).

Functions of (entry, spec, now) returning new Entry values; nothing here writes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from datetime import datetime
from typing import Any

from jobrunner import model, recurrence


def first_run(spec: model.JobSpec, now: datetime) -> datetime:
    """Enqueue's earliest start: the initial run time, never sooner than now + 1 s."""
    return recurrence.enqueue_time(recurrence.initial_run(spec, now), now)


def new_entry(spec: model.JobSpec, now: datetime) -> model.Entry:
    """Insert(true) then Enqueue: a new file's entry, ready at its first run (or on hold)."""
    if spec.status is model.DesiredStatus.ON_HOLD:
        return model.Entry(
            spec=spec, status=model.EntryStatus.ON_HOLD, created_at=now, updated_at=now
        )
    return model.Entry(
        spec=spec,
        status=model.EntryStatus.READY,
        earliest_start=first_run(spec, now),
        last_ready_state=now,
        created_at=now,
        updated_at=now,
    )


def without_session(entry: model.Entry, now: datetime, **changes: Any) -> model.Entry:
    """BC's "clear the service values": the entry no longer belongs to a session (and
    takes `changes` in the same copy: a run's end makes one, not one per step)."""
    return dataclasses.replace(
        entry,
        session_id=None,
        session_pid=None,
        session_started=None,
        runner_id=None,
        updated_at=now,
        **changes,
    )


def ready(entry: model.Entry, now: datetime) -> model.Entry:
    """The Ready path (SetStatus(Ready) / Restart): attempts 0, the next run recomputed,
    session values cleared; the last error text stays until the next run."""
    return dataclasses.replace(
        without_session(entry, now),
        status=model.EntryStatus.READY,
        attempts=0,
        earliest_start=first_run(entry.spec, now),
        last_ready_state=now,
        trigger=None,
    )


def hold(entry: model.Entry, now: datetime) -> model.Entry:
    """SetStatus(On Hold): the pending run is cancelled."""
    return dataclasses.replace(
        entry, status=model.EntryStatus.ON_HOLD, earliest_start=None, trigger=None, updated_at=now
    )


def redefine(entry: model.Entry, spec: model.JobSpec, now: datetime) -> model.Entry:
    """A changed job file: the new definition, back through the Ready path, or on hold
    when the file says so. A run in process keeps running; its end uses the new one."""
    changed = dataclasses.replace(entry, spec=spec, rejected="", updated_at=now)
    if entry.status is model.EntryStatus.IN_PROCESS:
        return changed
    if spec.status is model.DesiredStatus.ON_HOLD:
        return hold(changed, now)
    return ready(changed, now)


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class StatusChange:
    """What `set_status` decided: the entry to write (None: nothing to write), what
    happened in words, and whether the job file refused the status (its `status:
    on_hold` wins over the command)."""

    entry: model.Entry | None
    message: str
    refused: bool = False

    @property
    def changed(self) -> bool:
        return self.entry is not None


def set_status(entry: model.Entry, wanted: model.EntryStatus, now: datetime) -> StatusChange:
    """BC's SetStatus from the CLI. Ready from Error is BC's Restart: attempts 0, the
    error kept until the next run, the next run recomputed."""
    if wanted is entry.status:
        return StatusChange(
            entry=None, message=f"{entry.id} is already {wanted.value}; nothing changed"
        )
    if wanted is model.EntryStatus.READY:
        return _set_ready(entry, now)
    if wanted is model.EntryStatus.ON_HOLD:
        if entry.status is model.EntryStatus.IN_PROCESS:
            held = dataclasses.replace(entry, status=model.EntryStatus.ON_HOLD, updated_at=now)
            message = (
                f"{entry.id} is on hold; its run in process goes on and it stays on hold after"
            )
            return StatusChange(entry=held, message=message)
        return StatusChange(
            entry=hold(entry, now), message=f"{entry.id} is on hold; its pending run is cancelled"
        )
    raise ValueError(f"cannot set status {wanted.value}")


def _set_ready(entry: model.Entry, now: datetime) -> StatusChange:
    if entry.spec.status is model.DesiredStatus.ON_HOLD:
        message = (
            f"{entry.id} stays on hold: its job file {entry.spec.source} says "
            "status: on_hold, and the file wins"
        )
        return StatusChange(entry=None, message=message, refused=True)
    if entry.status is model.EntryStatus.IN_PROCESS:
        message = f"{entry.id} is in process; it goes on by itself when the run ends"
        return StatusChange(entry=None, message=message)
    restarted = ready(entry, now)
    message = f"{entry.id} is ready; next run {restarted.earliest_start:%Y-%m-%d %H:%M:%S} UTC"
    return StatusChange(entry=restarted, message=message)


MARKED = "Marked as an error by {user}."


def mark_error(
    log: model.LogEntry, entry: model.Entry | None, user: str, now: datetime
) -> tuple[model.LogEntry, model.Entry | None]:
    """BC's MarkAsError for a log entry stuck in process (and SetError on its entry)."""
    if log.status is not model.LogStatus.IN_PROCESS:
        raise ValueError("Only entries with the status In Progress can be marked as errors.")
    text = MARKED.format(user=user)
    closed = dataclasses.replace(
        log, status=model.LogStatus.ERROR, error_message=text, end_at=log.end_at or now
    )
    if entry is None or entry.session_id != log.session_id:
        return closed, None
    failed = dataclasses.replace(
        without_session(entry, now),
        status=model.EntryStatus.ERROR,
        error_message=text,
        earliest_start=None,
        trigger=None,
        cancel="",
    )
    return closed, failed


DISPATCH = "jobrunner:dispatch"
"""The object of the task that backs an entry: the job queue dispatcher for that entry."""
_TASK_IDS = uuid.UUID("6f1d0e4a-3c1b-4f57-9a43-7e2d2b8c5a10")
_TASK_NAMESPACE = _TASK_IDS.bytes  # (the property builds them at each call)


def system_task_id(entry_id: str) -> str:
    """The id of the task backing an entry (BC's System Task ID), stable per entry: the
    name-based (SHA-1) UUID of the entry id, as `uuid.uuid5` makes it, without building
    UUID objects (it is on every write of an entry)."""
    raw = bytearray(hashlib.sha1(_TASK_NAMESPACE + entry_id.encode()).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50  # version 5
    raw[8] = (raw[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def due_at(entry: model.Entry) -> datetime | None:
    """When the entry's pending run may start: its earliest start, plus the jitter
    offset for an occurrence of a recurring entry (not for a retry or a rerun after
    inactivity). The earliest start itself stays the occurrence (what `next`, `status`
    and the next run's computation see). The salt is the entry's creation instant in
    this host's store: it differs between hosts and survives restarts."""
    at = entry.earliest_start
    rec = entry.spec.recurrence
    if at is None or rec is None or rec.jitter is None:
        return at
    if entry.status is not model.EntryStatus.READY or entry.attempts or entry.session_retries:
        return at
    salt = entry.created_at.isoformat() if entry.created_at else ""
    return at + recurrence.jitter_offset(entry.spec, at, salt)


def platform_task(entry: model.Entry) -> model.Task | None:
    """The task that backs an entry while it has a run pending or in process (BC: the
    entry is Scheduled): not before its earliest start (`due_at`: jittered); not ready
    while it waits for its category; running while in process. None when nothing is
    pending."""
    waiting = entry.status is model.EntryStatus.WAITING
    running = entry.status is model.EntryStatus.IN_PROCESS
    scheduled = (
        entry.status in (model.EntryStatus.READY, model.EntryStatus.ON_HOLD_INACTIVITY)
        and entry.earliest_start
    )
    if not (waiting or running or scheduled):
        return None
    return model.Task(
        id=system_task_id(entry.id),
        object=DISPATCH,
        entry_id=entry.id,
        ready=not waiting,
        not_before=due_at(entry),
        user=entry.spec.user or "",
        created_at=entry.created_at,
        session_id=entry.session_id if running else None,
    )
