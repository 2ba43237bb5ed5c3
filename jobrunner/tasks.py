"""The Task Scheduler API (BC's TaskScheduler data type): programmatic tasks beside the
job queue, usable inside a session and from any process that points at the same config.

    from jobrunner import tasks
    task_id = tasks.create_task("acme.jobs:post_batch", "acme.jobs:alert",
                                not_before=soon, parameter="batch-7")

A task runs its object in a background session at or after `not_before` once ready. On
success the task is gone; an exception listed in `retriable_exceptions` re-runs it on
the platform retry profile; any other one runs the failure object in a new session with
the error (`ctx.error`), itself retried on the profile if it fails; with no failure
object the task fails and its log entry records why.
"""

from __future__ import annotations

import dataclasses
import os
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from jobrunner import config, errors, lifecycle, model, permissions, store, wake
from jobrunner.store.sqlite import FILE_NAME, SqliteStore

CONFIG_ENV = "JOBRUNNER_CONFIG"
STATE_ENV = "JOBRUNNER_STATE_DIR"
_REF = re.compile(r"^(\d+|[A-Za-z_][\w.]*:[A-Za-z_][\w.]*)$")
_opened: tuple[config.Config, store.Store] | None = None


class TaskPermissionError(errors.JobRunnerError, PermissionError):
    """The user may not create tasks (the config's users: create_tasks)."""


def configure(config_path: Path | None = None) -> None:
    """Point this process at a config (default: $JOBRUNNER_CONFIG, else ./jobrunner.yaml;
    inside a session the runner's own)."""
    global _opened
    if _opened is not None:
        _opened[1].close()
    cfg = config.load(config_path)
    state = Path(os.environ.get(STATE_ENV) or cfg.state_dir)
    _opened = (cfg, SqliteStore(state / FILE_NAME))


def _context() -> tuple[config.Config, store.Store]:
    if _opened is None:
        configure(Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    assert _opened is not None
    return _opened


def _object(value: int | str) -> str:
    text = str(value)
    if not _REF.match(text):
        raise ValueError(f"{value!r} is not an object id or a 'package.module:function'")
    return text


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    if value.tzinfo is None:
        raise ValueError("not_before must be timezone-aware")
    return value.astimezone(UTC)


def can_create_task() -> bool:
    """Whether the calling user may create tasks."""
    cfg, _ = _context()
    return permissions.may_create_tasks(cfg.users, permissions.current_user())


def create_task(
    object: int | str,
    failure_object: int | str | None = None,
    *,
    ready: bool = True,
    not_before: datetime | None = None,
    record: str | None = None,
    timeout: timedelta | None = None,
    parameter: str | None = None,
) -> uuid.UUID:
    """Record a task durably; it runs in a background session at or after `not_before`
    (default now) once ready. `record` is the entry id it is about, if any."""
    cfg, db = _context()
    user = permissions.current_user()  # the kernel's word: $LOGNAME is the caller's
    if not permissions.may_create_tasks(cfg.users, user):
        raise TaskPermissionError(f"User {user!r} has no permission to create tasks.")
    task_id = uuid.uuid4()
    task = model.Task(
        id=str(task_id),
        object=_object(object),
        failure_object=None if failure_object is None else _object(failure_object),
        ready=ready,
        not_before=_aware(not_before),
        entry_id=record,
        timeout=timeout,
        parameter=parameter or "",
        user=user,
        created_at=datetime.now(UTC),
    )
    db.commit(model.Transition(reason="task_created", task_put=(task,)))
    wake.send(cfg.state_dir)
    return task_id


def start_session(object: int | str, parameter: str | None = None) -> str:
    """Run an object now in a new background session (BC's StartSession), within the
    runner's session limit; returns the id to look for in `jobrunner sessions`."""
    return str(create_task(object, parameter=parameter))


def task_exists(task_id: uuid.UUID | str) -> bool:
    _, db = _context()
    return db.get_task(str(task_id)) is not None


def set_task_ready(task_id: uuid.UUID | str, not_before: datetime | None = None) -> bool:
    """Make a task ready (optionally moving its not-before); False when it is gone."""
    cfg, db = _context()
    for _ in range(3):
        task = db.get_task(str(task_id))
        if task is None or task.object == lifecycle.DISPATCH:  # entries: jobrunner set-status
            return False
        when = _aware(not_before) if not_before else task.not_before
        changed = dataclasses.replace(task, ready=True, not_before=when)
        try:
            db.commit(model.Transition(reason="task_ready", task_put=(changed,)))
        except store.StoreConflict:
            continue
        wake.send(cfg.state_dir)
        return True
    return False


def cancel_task(task_id: uuid.UUID | str) -> bool:
    """Remove a pending task; a running one cannot be cancelled (False), as in BC. The
    task backing a job queue entry belongs to the entry (use `jobrunner set-status`)."""
    _, db = _context()
    for _ in range(3):
        task = db.get_task(str(task_id))
        if task is None or task.session_id is not None or task.object == lifecycle.DISPATCH:
            return False
        try:
            db.commit(
                model.Transition(reason="task_cancelled", task_delete=((task.id, task.version),))
            )
        except store.StoreConflict:
            continue
        return True
    return False


def list_tasks(*, entries: bool = False) -> list[model.Task]:
    """The tasks; with `entries`, also those backing job queue entries."""
    _, db = _context()
    return [t for t in db.list_tasks() if entries or t.object != lifecycle.DISPATCH]
