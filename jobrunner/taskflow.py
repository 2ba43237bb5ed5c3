"""The platform layer's pure part (BC's Task Scheduler): what a task session is logged
as, the error a failure handler or failure object receives (one shape for both), the
failure-handler task of an entry, and the fields of a task's events. No clock, no I/O."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from jobrunner import finishing, model, retry

DESCRIPTION_LIMIT = 250


def failure_error(
    *,
    entry_id: str | None,
    message: str,
    stack: str,
    attempt: int,
    last_attempt: bool,
    task: model.Task | None = None,
) -> dict[str, Any]:
    """What `ctx.error` holds in a failure handler's session: the failed run's error,
    and for a task's failure object the task's id and parameter too."""
    return {
        **({"task_id": task.id} if task is not None else {}),
        "entry_id": entry_id,
        "message": message,
        "stack": stack,
        "attempt": attempt,
        "last_attempt": last_attempt,
        **({"parameter": task.parameter} if task is not None else {}),
    }


def handler_task(
    stored: model.Entry, closed: model.LogEntry, result: model.Outcome, *, last_attempt: bool
) -> model.Task | None:
    """The task that runs an entry's failure handler after a failed run (closed in
    `closed`), or None when the entry has none. Due at the run's end."""
    handler = stored.spec.failure_handler
    if handler is None or closed.end_at is None:
        return None
    error = failure_error(
        entry_id=stored.id,
        message=closed.error_message,
        stack=result.stack,
        attempt=closed.attempt,
        last_attempt=last_attempt,
    )
    return model.Task(
        id=str(uuid.uuid4()),
        object=str(handler),
        entry_id=stored.id,
        not_before=closed.end_at,
        parameter=json.dumps(error),
        user=stored.spec.user or "",
        created_at=closed.end_at,
        phase=model.Phase.FAILURE,
    )


def handed_to_failure_object(task: model.Task, error: dict[str, Any], now: datetime) -> model.Task:
    """A main task that failed, as its failure object's task (it runs with `error`)."""
    assert task.failure_object is not None
    return dataclasses.replace(
        task,
        session_id=None,
        runner_id=None,
        object=task.failure_object,
        failure_object=None,
        phase=model.Phase.FAILURE,
        attempts=0,
        not_before=now,
        parameter=json.dumps(error),
    )


def started(task: model.Task, *, session_id: str, user: str, now: datetime) -> model.LogEntry:
    """The in-process log entry of a task's session (committed before the session)."""
    return model.LogEntry(
        entry_id=task.entry_id or f"task:{task.id}",
        start_at=now,
        user=user,
        object_id=task.object,
        session_id=session_id,
        description=f"task {task.object} ({task.phase})",
        parameter_string=task.parameter[:DESCRIPTION_LIMIT],
        attempt=task.attempts + 1,
        system_task_id=task.id,
    )


def error_of(task: model.Task) -> dict[str, Any] | None:
    """The error a failure-phase task's session receives (None for a main task)."""
    if task.phase != model.Phase.FAILURE:
        return None
    error: dict[str, Any] = json.loads(task.parameter)
    return error


def object_id(task: model.Task) -> int | str:
    """The task's object as an object id (a codeunit number or a ref)."""
    return int(task.object) if task.object.isdigit() else task.object


def fields(task: model.Task, session_id: str) -> dict[str, Any]:
    """The fields of a task's events."""
    return {
        "task_id": task.id,
        "object": task.object,
        "phase": task.phase,
        "entry_id": task.entry_id,
        "session_id": session_id,
    }


def task_ended(
    task: model.Task, outcome: model.Outcome, now: datetime, profile: Sequence[timedelta]
) -> tuple[model.Task | None, str]:
    """The Task Scheduler's end of a task session (BC §7.2): the task as it goes on (None:
    it is gone) and the event to log. Success removes it; a retriable failure (and any
    failure of a failure object) is re-run on the platform profile; any other failure
    of the main object hands the task to its failure object, with the error."""
    if outcome.ok:
        return None, "task_finished"
    idle = dataclasses.replace(task, session_id=None, runner_id=None)
    if outcome.retriable or task.phase == model.Phase.FAILURE:
        delay = retry.platform_delay(profile, task.attempts)
        if delay is not None:
            return dataclasses.replace(
                idle, attempts=task.attempts + 1, not_before=now + delay
            ), "task_retry_scheduled"
    if task.phase == model.Phase.MAIN and task.failure_object:
        error = failure_error(
            entry_id=task.entry_id,
            message=finishing.first_line(outcome.message),
            stack=outcome.stack,
            attempt=task.attempts + 1,
            last_attempt=True,
            task=task,
        )
        return handed_to_failure_object(task, error, now), "task_failure_object_scheduled"
    return None, "task_failed"
