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
from typing import Any

from jobrunner import config, errors, lifecycle, model, permissions, store, taskgate, wake
from jobrunner.store import open as store_open
from jobrunner.store.sqlite import StateAccessDenied

CONFIG_ENV = "JOBRUNNER_CONFIG"
STATE_ENV = "JOBRUNNER_STATE_DIR"
_REF = re.compile(r"^(\d+|[A-Za-z_][\w.]*:[A-Za-z_][\w.]*)$")
_opened: tuple[config.Config, Path, store.Store | StateAccessDenied] | None = None


class TaskPermissionError(errors.JobRunnerError, PermissionError):
    """The user may not create tasks (the config's users: create_tasks)."""


class TaskRequestRefused(errors.JobRunnerError, PermissionError):
    """The runner refused a task request (the reason is the message)."""


def configure(config_path: Path | None = None) -> None:
    """Point this process at a config (default: $JOBRUNNER_CONFIG, else ./jobrunner.yaml;
    inside a session the runner's own)."""
    global _opened
    if _opened is not None and not isinstance(_opened[2], StateAccessDenied):
        _opened[2].close()
    cfg = config.load(config_path)
    state = Path(os.environ.get(STATE_ENV) or cfg.state_dir)
    try:
        db: store.Store | StateAccessDenied = store_open.open_at(state, dsn=cfg.store)
    except StateAccessDenied as exc:  # another account's: tasks go through its runner
        db = exc
    _opened = (cfg, state, db)


def _settings() -> tuple[config.Config, Path, store.Store | StateAccessDenied]:
    if _opened is None:
        configure(Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None)
    assert _opened is not None
    return _opened


def _context() -> tuple[config.Config, store.Store]:
    cfg, _, db = _settings()
    if isinstance(db, StateAccessDenied):
        raise db
    return cfg, db


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
    cfg, _, _ = _settings()
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
    (default now) once ready. `record` is the entry id it is about, if any. An account
    that may not open the store (it is private to the runner's) asks the runner."""
    cfg, state, db = _settings()
    request = {
        "object": _object(object),
        "failure_object": None if failure_object is None else _object(failure_object),
        "ready": ready,
        "not_before": _aware(not_before).isoformat(),
        "record": record,
        "timeout_ms": None if timeout is None else round(timeout.total_seconds() * 1000),
        "parameter": parameter or "",
    }
    if isinstance(db, StateAccessDenied):
        try:
            answer = taskgate.request(state, request)
        except taskgate.NoRunner as exc:
            raise StateAccessDenied(f"{db} (or ask its running runner: {exc})") from None
        if "error" in answer:
            raise TaskRequestRefused(str(answer["error"]))
        return uuid.UUID(str(answer["id"]))
    task = new_task(cfg, permissions.current_user(), request, datetime.now(UTC))
    db.commit(model.Transition(reason="task_created", task_put=(task,)))
    wake.send(cfg.state_dir)
    return uuid.UUID(task.id)


def new_task(cfg: config.Config, user: str, request: dict[str, Any], now: datetime) -> model.Task:
    """The task `user` asks for with `request` (create_task's arguments, as JSON), or
    TaskPermissionError, or ValueError when the request is not valid."""
    if not permissions.may_create_tasks(cfg.users, user):
        raise TaskPermissionError(f"User {user!r} has no permission to create tasks.")
    failure, timeout_ms = request.get("failure_object"), request.get("timeout_ms")
    if timeout_ms is not None and (not isinstance(timeout_ms, int) or timeout_ms < 0):
        raise ValueError(f"{timeout_ms!r} is not a timeout")
    return model.Task(
        id=str(uuid.uuid4()),
        object=_object(request.get("object", "")),
        failure_object=None if failure is None else _object(failure),
        ready=bool(request.get("ready", True)),
        not_before=_aware(datetime.fromisoformat(str(request["not_before"]))),
        entry_id=None if request.get("record") is None else str(request["record"]),
        timeout=None if timeout_ms is None else timedelta(milliseconds=timeout_ms),
        parameter=str(request.get("parameter") or ""),
        user=user,
        created_at=now,
    )


def serve_request(
    cfg: config.Config, db: store.Store, uid: int, request: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What the runner answers to a task request from the account of `uid` (taskgate):
    the new task's id, or the reason it was refused."""
    user = permissions.account_name(uid)
    try:
        task = new_task(cfg, user, request, now)
    except (TaskPermissionError, ValueError, KeyError, TypeError) as exc:
        return {"error": str(exc)}
    db.commit(model.Transition(reason="task_created", task_put=(task,)))
    return {"id": task.id}


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
    return cancel_in(db, str(task_id))


def cancel_in(db: store.Store, task_id: str) -> bool:
    """`cancel_task` on the store `db` (the dashboard's, which has its store open)."""
    for _ in range(3):
        task = db.get_task(task_id)
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
