"""Rows <-> the model, by column name: what an SQL store writes for a value and the
value it reads back. Instants are stored as microseconds since the epoch (UTC),
booleans as 0/1, durations as milliseconds, an entry's definition as its JSON (`codec`).

A read is decoded by the names of the columns its cursor reports: each reader looks
up, once per shape of result (`cursor.description`), where each column it needs is,
so the order of a SELECT list is never relied on and a row is read at the speed of a
plain tuple. What a statement writes is the tuple of values in its own column list
(`queries`, which names them).
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner import model
from jobrunner.store import codec, entrytask
from jobrunner.store.sql.queries import ENTRY_VALUES

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def us(value: datetime | None) -> int | None:
    return None if value is None else (value - EPOCH) // _MICROSECOND


def dt(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def span_us(value: timedelta) -> int:
    return value // _MICROSECOND


Description = tuple[tuple[Any, ...], ...]
"""A cursor's `description`: a (name, ...) tuple per column of its rows."""
Reader = Callable[[Sequence[Any]], Any]


def at(description: Description, names: Sequence[str]) -> tuple[int, ...]:
    """Where the columns `names` are in the rows of a cursor of this `description`."""
    found = {d[0]: i for i, d in enumerate(description)}
    return tuple(found[n] for n in names)


def read(cursor: Any, shape: Description, reader: Callable[[Description], Reader]) -> list[Any]:
    """A cursor's rows as values, by the reader made for its columns (`shape`: as
    `Dialect.shape` gives them)."""
    return list(map(reader(shape), cursor.fetchall()))


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
        s.revision,
    )


ENTRY_COLUMNS = ("id", "entry_no", *ENTRY_VALUES, "version")


@dataclass(frozen=True, slots=True)
class EntryReader:
    """How rows of entries of one shape are read: `entry(row)`, and the row's id,
    version and ENTRY_VALUES (what `Memo` compares with the next write)."""

    entry: Reader
    id: int
    version: int
    values: Callable[[Sequence[Any]], tuple[Any, ...]]


@functools.lru_cache(maxsize=16)
def entry_reader(description: Description) -> EntryReader:
    (i, no, definition, digest, source, zone, _category, _priority, status, earliest,
     attempts, message, stack, ready_at, session, pid, started, runner, task, rejected,
     remove, run_at, result, created, updated, retries, stamp, requested, revision,
     version) = at(description, ENTRY_COLUMNS)  # fmt: skip

    def entry(r: Sequence[Any]) -> model.Entry:
        return model.Entry(
            spec=codec.from_definition(
                r[definition], r[source], r[i], r[zone], r[digest], r[stamp], r[revision]
            ),
            entry_no=r[no],
            status=model.EntryStatus(r[status]),
            earliest_start=dt(r[earliest]),
            attempts=r[attempts],
            error_message=r[message],
            error_call_stack=r[stack],
            last_ready_state=dt(r[ready_at]),
            session_id=r[session],
            session_pid=r[pid],
            session_started=r[started],
            runner_id=r[runner],
            system_task_id=r[task],
            rejected=r[rejected],
            remove_after_run=bool(r[remove]),
            last_run_at=dt(r[run_at]),
            last_result=r[result],
            created_at=dt(r[created]),
            updated_at=dt(r[updated]),
            session_retries=r[retries],
            **requests(r[requested]),
            version=r[version],
        )

    values = operator.itemgetter(*at(description, ENTRY_VALUES))
    return EntryReader(entry=entry, id=i, version=version, values=values)


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
        str(t.phase),
        t.session_id,
        t.runner_id,
    )


def entry_task_row(backing: entrytask.EntryTask) -> tuple[Any, ...] | None:
    """The row `put_entry_task` writes for the task backing an entry (None: none)."""
    if backing.task is None:
        return None
    return (backing.task_id, *task_values(backing.task), backing.rank, backing.seq)


TASK_COLUMNS = (
    "id",
    "object",
    "failure_object",
    "ready",
    "not_before",
    "entry_id",
    "timeout_ms",
    "parameter",
    "user",
    "attempts",
    "created_at",
    "phase",
    "session_id",
    "runner_id",
    "version",
)


@functools.lru_cache(maxsize=16)
def task_reader(description: Description) -> Reader:
    (i, obj, failure, ready, not_before, entry, timeout, parameter, user, attempts, created,
     phase, session, runner, version) = at(description, TASK_COLUMNS)  # fmt: skip

    def task(r: Sequence[Any]) -> model.Task:
        return model.Task(
            id=r[i],
            object=r[obj],
            failure_object=r[failure],
            ready=bool(r[ready]),
            not_before=dt(r[not_before]),
            entry_id=r[entry],
            timeout=None if r[timeout] is None else timedelta(milliseconds=r[timeout]),
            parameter=r[parameter],
            user=r[user],
            attempts=r[attempts],
            created_at=dt(r[created]),
            phase=model.Phase(r[phase]),
            session_id=r[session],
            runner_id=r[runner],
            version=r[version],
        )

    return task


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


LOG_COLUMNS = (
    "entry_no",
    "entry_id",
    "user",
    "start_at",
    "end_at",
    "object_type",
    "object_id",
    "parameter_string",
    "description",
    "category",
    "status",
    "error_message",
    "error_call_stack",
    "session_id",
    "attempt",
    "system_task_id",
    "output",
    "client_type",
)


@functools.lru_cache(maxsize=16)
def log_reader(description: Description) -> Reader:
    (no, entry, user, start, end, kind, obj, parameter, text, category, status, message,
     stack, session, attempt, task, output, client) = at(description, LOG_COLUMNS)  # fmt: skip

    def log(r: Sequence[Any]) -> model.LogEntry:
        return model.LogEntry(
            entry_no=r[no],
            entry_id=r[entry],
            user=r[user],
            start_at=dt(r[start]) or EPOCH,
            end_at=dt(r[end]),
            object_type=r[kind],
            object_id=r[obj],
            parameter_string=r[parameter],
            description=r[text],
            category=r[category],
            status=model.LogStatus(r[status]),
            error_message=r[message],
            error_call_stack=r[stack],
            session_id=r[session],
            attempt=r[attempt],
            system_task_id=r[task],
            output=r[output],
            client_type=model.ClientType(r[client]),
        )

    return log


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


EVENT_COLUMNS = (
    "seq",
    "session_id",
    "event",
    "at",
    "user",
    "runner_id",
    "client_type",
    "entry_id",
    "pid",
    "comment",
)


@functools.lru_cache(maxsize=16)
def event_reader(description: Description) -> Reader:
    seq, session, event, when, user, runner, client, entry, pid, comment = at(
        description, EVENT_COLUMNS
    )

    def session_event(r: Sequence[Any]) -> model.SessionEvent:
        return model.SessionEvent(
            seq=r[seq],
            session_id=r[session],
            event=r[event],
            at=dt(r[when]) or EPOCH,
            user=r[user],
            runner_id=r[runner],
            client_type=model.ClientType(r[client]),
            entry_id=r[entry],
            pid=r[pid],
            comment=r[comment],
        )

    return session_event


def scope(category: str | None) -> str:
    """A pause's key: the category, or '' for the whole runner (no category is '')."""
    return category or ""


def pause_values(p: model.Pause) -> tuple[Any, ...]:
    return (scope(p.category), p.by, us(p.at))


@functools.lru_cache(maxsize=16)
def pause_reader(description: Description) -> Reader:
    key, by, when = at(description, ("scope", "by_user", "at"))

    def pause(r: Sequence[Any]) -> model.Pause:
        return model.Pause(category=r[key] or None, by=r[by], at=dt(r[when]) or EPOCH)

    return pause
