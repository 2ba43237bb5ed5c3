"""The changes a dashboard user may make, each through the function the CLI's command
calls (`operate`), so each is a real change of the store exactly as the CLI
makes it and wakes the runner as the CLI does; each checked against the user's rights
first and logged with the user (`web_action_done`, `web_action_refused`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobrunner import errors, lifecycle, model, objects, operate, store, tasks, telemetry
from jobrunner.views import shapes
from jobrunner.web import auth, source

ENTRY_ACTIONS = ("ready", "on_hold", "run_now", "cancel")


class ActionError(errors.JobRunnerError):
    """An action that was not carried out; `status` is its HTTP status."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _ref(object_id: int | str, cfg_objects: dict[int, str]) -> str:
    try:
        return objects.resolve_ref(object_id, cfg_objects)
    except errors.JobRunnerError:
        return ""


def _check(src: source.Source, user: str, object_id: int | str | None, what: str) -> None:
    ref = "" if object_id is None else _ref(object_id, src.cfg.objects)
    refused = auth.refusal(src.cfg.users, user, object_id=object_id, ref=ref)
    if refused:
        telemetry.get_logger().warning("web_action_refused", user=user, action=what, why=refused)
        raise ActionError(refused, 403)


def _done(user: str, action: str, **fields: Any) -> None:
    telemetry.get_logger().info("web_action_done", user=user, action=action, **fields)


def _carried_out(call: Callable[[], Any]) -> Any:
    """The CLI's errors as HTTP statuses: unknown 404, refused or changing 409."""
    try:
        return call()
    except errors.UnknownEntry as exc:
        raise ActionError(str(exc), 404) from None
    except store.StoreUnwritable as exc:
        raise ActionError(str(exc), 503) from None
    except errors.JobRunnerError as exc:
        raise ActionError(str(exc), 409) from None


def entry_action(src: source.Source, user: str, action: str, entry_id: str) -> dict[str, Any]:
    """`ready` / `on_hold` (set-status), `run_now` (trigger), `cancel`: the JSON the
    CLI's command prints with --json."""
    entry = src.reader().get_entry(entry_id)
    if entry is None:
        raise ActionError(f"no entry {entry_id!r}", 404)
    _check(src, user, entry.spec.object_id, action)
    cfg = src.cfg

    def act(db: store.Store) -> dict[str, Any]:
        if action in ("ready", "on_hold"):
            decided = operate.set_status(cfg, db, entry_id, model.EntryStatus(action))
            now = db.get_entry(entry_id)
            assert now is not None
            return shapes.set_status_json(decided, now)
        if action == "run_now":
            asked, woken = operate.trigger(cfg, db, entry_id, by=user)
            return shapes.trigger_json(asked, woken)
        if action == "cancel":
            return shapes.cancel_json(operate.cancel(cfg, db, entry_id, by=user))
        raise ActionError(f"no action {action!r}", 404)

    result: dict[str, Any] = _carried_out(lambda: _with_writer(src, act))
    _done(user, action, entry_id=entry_id)
    return result


def _with_writer(src: source.Source, act: Callable[[store.Store], Any]) -> Any:
    try:
        return act(src.writer())
    finally:
        src.touch()  # the next page shows it, before the watcher has seen the commit


def mark_error(src: source.Source, user: str, log_no: int) -> dict[str, Any]:
    """A log entry stuck in process closed as an error (`jobrunner mark-error`)."""
    row = src.reader().get_log(log_no)
    if row is None:
        raise ActionError(f"no log entry number {log_no}", 404)
    _check(src, user, _object_id(row.object_id), "mark_error")
    message = _carried_out(
        lambda: _with_writer(src, lambda db: operate.mark_error(src.cfg, db, log_no, by=user))
    )
    _done(user, "mark_error", log_entry_no=log_no, entry_id=row.entry_id)
    return {"entry_no": log_no, "message": message}


def cancel_task(src: source.Source, user: str, task_id: str) -> dict[str, Any]:
    """A pending task removed (`jobrunner task cancel`): a running one, or the task that
    backs an entry, is refused as the CLI refuses it."""
    task = src.reader().get_task(task_id)
    if task is None:
        raise ActionError(f"no task {task_id!r}", 404)
    if task.object == lifecycle.DISPATCH:
        raise ActionError(f"task {task_id} backs an entry: set the entry on hold instead", 409)
    _check(src, user, task.object, "cancel_task")
    if not _carried_out(lambda: _with_writer(src, lambda db: tasks.cancel_in(db, task_id))):
        raise ActionError(f"task {task_id} is running: it cannot be cancelled", 409)
    _done(user, "cancel_task", task_id=task_id)
    cancelled: dict[str, Any] = {"task_id": task_id, "cancelled": True}
    return cancelled


def _object_id(text: str) -> int | str:
    return int(text) if text.isdigit() else text
