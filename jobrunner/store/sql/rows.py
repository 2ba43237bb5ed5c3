"""Rows <-> the model, by column name: what an SQL store writes for a value and the
value it reads back. Instants are stored as microseconds since the epoch (UTC),
booleans as 0/1, durations as milliseconds, an entry's definition as its JSON (`codec`).

A read's rows are named tuples of the columns its cursor reports (`named`), so the
order of a SELECT list is never relied on; what a statement writes is the tuple of
values in its own column list (`queries`, which names them).
"""

from __future__ import annotations

import collections
import functools
import json
import operator
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner import model
from jobrunner.store import codec, follow
from jobrunner.store.sql.queries import ENTRY_VALUES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
entry_values_of: Callable[[Any], tuple[Any, ...]] = operator.attrgetter(*ENTRY_VALUES)
"""A read entry row's ENTRY_VALUES, in order (what `entry_values` writes)."""


def us(value: datetime | None) -> int | None:
    return None if value is None else (value - EPOCH) // _MICROSECOND


def dt(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


@functools.lru_cache(maxsize=64)
def _row_type(names: tuple[str, ...]) -> Callable[[Any], Any]:
    row: Any = collections.namedtuple("Row", names)  # type: ignore[misc]  # the cursor's
    make: Callable[[Any], Any] = row._make
    return make


def named(cursor: Any) -> list[Any]:
    """A cursor's rows as named tuples of its columns."""
    make = _row_type(tuple(d[0] for d in cursor.description))
    return [make(r) for r in cursor.fetchall()]


# --- entries -------------------------------------------------------------------------


def entry_values(e: model.Entry, task: model.Task | None) -> tuple[Any, ...]:
    """An entry's ENTRY_VALUES, in order, with the id of the task backing it."""
    s = e.spec
    return (
        codec.definition_json(s),
        s.digest,
        s.source,
        s.timezone,
        s.category,
        s.priority.rank,
        e.status.value,
        us(e.earliest_start),
        e.attempts,
        e.error_message,
        e.error_call_stack,
        us(e.last_ready_state),
        e.session_id,
        e.session_pid,
        e.session_started,
        e.runner_id,
        task.id if task else None,
        e.rejected,
        int(e.remove_after_run),
        us(e.last_run_at),
        e.last_result,
        us(e.created_at),
        us(e.updated_at),
        e.session_retries,
        s.stamp,
        requests_json(e),
    )


def entry(r: Any) -> model.Entry:
    return model.Entry(
        spec=codec.from_definition(r.definition, r.source, r.id, r.timezone, r.digest, r.stamp),
        entry_no=r.entry_no,
        status=model.EntryStatus(r.status),
        earliest_start=dt(r.earliest_start),
        attempts=r.attempts,
        error_message=r.error_message,
        error_call_stack=r.error_call_stack,
        last_ready_state=dt(r.last_ready_state),
        session_id=r.session_id,
        session_pid=r.session_pid,
        session_started=r.session_started,
        runner_id=r.runner_id,
        system_task_id=r.system_task_id,
        rejected=r.rejected,
        remove_after_run=bool(r.remove_after_run),
        last_run_at=dt(r.last_run_at),
        last_result=r.last_result,
        created_at=dt(r.created_at),
        updated_at=dt(r.updated_at),
        session_retries=r.session_retries,
        **requests(r.requests),
        version=r.version,
    )


def requests_json(e: model.Entry) -> str:
    """An entry's pending operator requests as JSON ('' when there are none)."""
    found: dict[str, Any] = {}
    if e.trigger is not None:
        t = e.trigger
        found["trigger"] = [t.by, us(t.at), t.status.value, us(t.next_run)]
    if e.cancel:
        found["cancel"] = e.cancel
    return json.dumps(found, separators=(",", ":")) if found else ""


def requests(text: str) -> dict[str, Any]:
    if not text:
        return {}
    found = json.loads(text)
    fields: dict[str, Any] = {"cancel": found.get("cancel", "")}
    if "trigger" in found:
        by, at, status, next_run = found["trigger"]
        fields["trigger"] = model.Trigger(
            by=by, at=dt(at) or EPOCH, status=model.EntryStatus(status), next_run=dt(next_run)
        )
    return fields


# --- tasks ---------------------------------------------------------------------------


def task_values(t: model.Task) -> tuple[Any, ...]:
    """A task's columns after its id, as `insert_task` and `update_task` name them."""
    timeout = None if t.timeout is None else round(t.timeout.total_seconds() * 1000)
    return (
        t.object,
        t.failure_object,
        int(t.ready),
        us(t.not_before) or 0,
        t.entry_id,
        timeout,
        t.parameter,
        t.user,
        t.attempts,
        us(t.created_at),
        t.phase,
        t.session_id,
    )


def entry_task_row(backing: follow.EntryTask) -> tuple[Any, ...] | None:
    """The row `put_entry_task` writes for the task backing an entry (None: none)."""
    if backing.task is None:
        return None
    return (backing.task_id, *task_values(backing.task), backing.rank, backing.seq)


def task(r: Any) -> model.Task:
    return model.Task(
        id=r.id,
        object=r.object,
        failure_object=r.failure_object,
        ready=bool(r.ready),
        not_before=dt(r.not_before),
        entry_id=r.entry_id,
        timeout=None if r.timeout_ms is None else timedelta(milliseconds=r.timeout_ms),
        parameter=r.parameter,
        user=r.user,
        attempts=r.attempts,
        created_at=dt(r.created_at),
        phase=r.phase,
        session_id=r.session_id,
        version=r.version,
    )


# --- the log, session events and pauses ----------------------------------------------


def log_values(log: model.LogEntry) -> tuple[Any, ...]:
    """A log entry's columns, as `insert_log` and `update_log` name them."""
    return (
        log.entry_id,
        log.user,
        us(log.start_at),
        us(log.end_at),
        log.object_type,
        log.object_id,
        log.parameter_string,
        log.description,
        log.category,
        log.status.value,
        log.error_message,
        log.error_call_stack,
        log.session_id,
        log.attempt,
        log.system_task_id,
        log.output,
        log.client_type.value,
    )


def log(r: Any) -> model.LogEntry:
    return model.LogEntry(
        entry_no=r.entry_no,
        entry_id=r.entry_id,
        user=r.user,
        start_at=dt(r.start_at) or EPOCH,
        end_at=dt(r.end_at),
        object_type=r.object_type,
        object_id=r.object_id,
        parameter_string=r.parameter_string,
        description=r.description,
        category=r.category,
        status=model.LogStatus(r.status),
        error_message=r.error_message,
        error_call_stack=r.error_call_stack,
        session_id=r.session_id,
        attempt=r.attempt,
        system_task_id=r.system_task_id,
        output=r.output,
        client_type=model.ClientType(r.client_type),
    )


def event_values(e: model.SessionEvent) -> tuple[Any, ...]:
    """A session event's columns, as `insert_event` names them."""
    return (
        e.session_id,
        e.event,
        us(e.at),
        e.user,
        e.runner_id,
        e.client_type.value,
        e.entry_id,
        e.pid,
        e.comment,
    )


def event(r: Any) -> model.SessionEvent:
    return model.SessionEvent(
        seq=r.seq,
        session_id=r.session_id,
        event=r.event,
        at=dt(r.at) or EPOCH,
        user=r.user,
        runner_id=r.runner_id,
        client_type=model.ClientType(r.client_type),
        entry_id=r.entry_id,
        pid=r.pid,
        comment=r.comment,
    )


def scope(category: str | None) -> str:
    """A pause's key: the category, or '' for the whole runner (no category is '')."""
    return category or ""


def pause_values(p: model.Pause) -> tuple[Any, ...]:
    return (scope(p.category), p.by, us(p.at))


def pause(r: Any) -> model.Pause:
    return model.Pause(category=r.scope or None, by=r.by_user, at=dt(r.at) or EPOCH)
