"""Pure entry transitions of BC's table 472 (Insert + Enqueue, the Ready path, SetStatus).

Functions of (entry, spec, now) returning new Entry values; nothing here writes.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime

from jobrunner import model, recurrence

S = model.EntryStatus


def first_run(spec: model.JobSpec, now: datetime) -> datetime:
    """Enqueue's earliest start: the initial run time, never sooner than now + 1 s."""
    return recurrence.enqueue_time(recurrence.initial_run(spec, now), now)


def new_entry(spec: model.JobSpec, now: datetime) -> model.Entry:
    """Insert(true) then Enqueue: a new file's entry, ready at its first run (or on hold)."""
    if spec.status is model.DesiredStatus.ON_HOLD:
        return model.Entry(spec=spec, status=S.ON_HOLD, created_at=now, updated_at=now)
    return model.Entry(
        spec=spec,
        status=S.READY,
        earliest_start=first_run(spec, now),
        last_ready_state=now,
        created_at=now,
        updated_at=now,
    )


def ready(entry: model.Entry, now: datetime) -> model.Entry:
    """The Ready path (SetStatus(Ready) / Restart): attempts 0, the next run recomputed,
    session values cleared; the last error text stays until the next run."""
    return dataclasses.replace(
        entry,
        status=S.READY,
        attempts=0,
        earliest_start=first_run(entry.spec, now),
        last_ready_state=now,
        session_id=None,
        session_pid=None,
        session_started=None,
        runner_id=None,
        updated_at=now,
    )


def hold(entry: model.Entry, now: datetime) -> model.Entry:
    """SetStatus(On Hold): the pending run is cancelled."""
    return dataclasses.replace(entry, status=S.ON_HOLD, earliest_start=None, updated_at=now)


def redefine(entry: model.Entry, spec: model.JobSpec, now: datetime) -> model.Entry:
    """A changed job file: the new definition, back through the Ready path, or on hold
    when the file says so. A run in process keeps running; its end uses the new one."""
    changed = dataclasses.replace(entry, spec=spec, rejected="", updated_at=now)
    if entry.status is S.IN_PROCESS:
        return changed
    if spec.status is model.DesiredStatus.ON_HOLD:
        return hold(changed, now)
    return ready(changed, now)
