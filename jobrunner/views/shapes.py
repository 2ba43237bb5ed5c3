"""The public JSON shapes of `--json` output (and of any reader that serves them): an
entry, a log entry, a session event, a task, a reconcile plan, next run times and the
answers of the acting commands. Fields are added, never renamed or dropped. Pure: values
in, plain dicts out; times as ISO-8601 UTC (`...Z`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from jobrunner import lifecycle, model, reconcile, recurrence, revision, timetext, wallclock


def duration(log: model.LogEntry) -> timedelta | None:
    """BC's Duration(): end - start rounded to the nearest 100 ms (50 ms -> 100)."""
    if log.end_at is None:
        return None
    ms = (log.end_at - log.start_at) / timedelta(milliseconds=1)
    return timedelta(milliseconds=int((ms + 50) // 100) * 100)


def log_kind(log: model.LogEntry) -> str:
    """`job` (a run of the entry's own object), `failure_handler` (a run of its failure
    handler, or of a task's failure object) or `task` (a task recorded on the entry): the
    runner describes a task's run as `task OBJECT (PHASE)`."""
    if log.description == f"task {log.object_id} (failure)":
        return "failure_handler"
    if log.description == f"task {log.object_id} (main)":
        return "task"
    return "job"


def next_runs(entry: model.Entry, count: int) -> list[datetime]:
    """The entry's next runs as the runner will compute them from its earliest start."""
    at = entry.earliest_start
    if at is None:
        return []
    out = [at]
    while entry.spec.recurring and len(out) < count:
        at = recurrence.enqueue_time(recurrence.next_run(entry.spec, at, at), at)
        out.append(at)
    return out


def entry_json(entry: model.Entry) -> dict[str, Any]:
    job = entry.spec
    return {
        "id": entry.id,
        "status": entry.status.value,
        "next_run": wallclock.iso(entry.earliest_start),
        "last_run": wallclock.iso(entry.last_run_at),
        "last_result": entry.last_result,
        "attempts": entry.attempts,
        "max_retries": job.max_retries,
        "category": job.category,
        "priority": job.priority.value,
        "recurring": job.recurring,
        "file": job.source,
        "revision": job.revision,
        "rejected": entry.rejected or None,
        "description": job.description,
        "object_type": job.object_type,
        "object_id": str(job.object_id),
        "parameter_string": job.parameter_string,
        "user": job.user,
        "timezone": job.timezone,
        "error_message": entry.error_message or None,
        "error_call_stack": entry.error_call_stack or None,
        "session_id": entry.session_id,
        "session_pid": entry.session_pid,
        "platform_retries": entry.session_retries,
        "system_task_id": entry.system_task_id,
        "entry_no": entry.entry_no,
        "created_at": wallclock.iso(entry.created_at),
        "updated_at": wallclock.iso(entry.updated_at),
        "definition": job.raw,
    }


def show_json(
    entry: model.Entry,
    logs: Sequence[model.LogEntry],
    documents: Mapping[int, dict[str, Any]] | None = None,
    waiting_for_revision: str | None = None,
) -> dict[str, Any]:
    """`show --json`: the entry, its next three runs and its last log entries (with their
    report documents, by log entry number); on a shared store, the revision its due run
    waits for a runner to hold (`views.nodes.waiting_for`)."""
    data = entry_json(entry)
    data["waiting_for_revision"] = waiting_for_revision
    data["next_runs"] = [wallclock.iso(t) for t in next_runs(entry, 3)]
    data["log"] = [log_json(row, (documents or {}).get(row.entry_no)) for row in logs]
    return data


def log_json(log: model.LogEntry, output: dict[str, Any] | None = None) -> dict[str, Any]:
    """`output`: the run's report document (`file`, `format`, `bytes`), if it has one."""
    took = duration(log)
    return {
        "entry_no": log.entry_no,
        "entry_id": log.entry_id,
        "status": log.status.value,
        "kind": log_kind(log),
        "start": wallclock.iso(log.start_at),
        "end": wallclock.iso(log.end_at),
        "duration_ms": None if took is None else int(took / timedelta(milliseconds=1)),
        "user": log.user,
        "object_type": log.object_type,
        "object_id": log.object_id,
        "parameter_string": log.parameter_string,
        "description": log.description,
        "category": log.category,
        "attempt": log.attempt,
        "session_id": log.session_id,
        "client_type": log.client_type.value,
        "error_message": log.error_message or None,
        "error_call_stack": log.error_call_stack or None,
        "output": log.output,
        "report_output": output,
    }


def session_json(event: model.SessionEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "session_id": event.session_id,
        "event": event.event,
        "at": wallclock.iso(event.at),
        "user": event.user,
        "runner_id": event.runner_id,
        "client_type": event.client_type.value,
        "entry_id": event.entry_id,
        "pid": event.pid,
        "comment": event.comment,
    }


def task_json(task: model.Task) -> dict[str, Any]:
    timeout = task.timeout
    return {
        "id": task.id,
        "object": task.object,
        "failure_object": task.failure_object,
        "ready": task.ready,
        "not_before": wallclock.iso(task.not_before),
        "record": task.entry_id,
        "timeout_ms": None if timeout is None else int(timeout.total_seconds() * 1000),
        "parameter": task.parameter,
        "user": task.user,
        "attempts": task.attempts,
        "phase": task.phase,
        "running": task.session_id is not None,
        "created_at": wallclock.iso(task.created_at),
    }


def next_json(
    times: Sequence[datetime], tz: ZoneInfo, jitter: timedelta | None
) -> list[dict[str, str]]:
    """`next --json`: each run time in the entry's zone and in UTC (and the jitter each
    may start later by)."""
    extra = {"jitter": timetext.format_duration(jitter)} if jitter else {}
    return [
        {
            "local": t.astimezone(tz).isoformat(),
            "utc": t.isoformat().replace("+00:00", "Z"),
            **extra,
        }
        for t in times
    ]


CHANGED = (reconcile.ChangeKind.CHANGE, reconcile.ChangeKind.MOVE, reconcile.ChangeKind.ACCEPT)


def plan_json(plan: reconcile.Plan, guarded: revision.Guarded | None = None) -> dict[str, Any]:
    """`plan --json`: the changes by what they do (a restamp is not shown); with the
    revision rule's view (`guarded`), this checkout's and the store's revisions and the
    changes it would not make (`kept`: the store holds a newer revision)."""
    out: dict[str, list[dict[str, Any]]] = {"add": [], "change": [], "remove": [], "rejected": []}
    for c in plan.changes:
        if c.kind is reconcile.ChangeKind.ADD and c.after is not None:
            out["add"].append({"id": c.entry_id, "file": c.path, **_after(c.after)})
        elif c.kind in CHANGED and c.after is not None:
            keys = {k: {"old": old, "new": new} for k, (old, new) in c.keys.items()}
            out["change"].append(
                {"id": c.entry_id, "file": c.path, "reason": c.kind.value, "keys": keys}
                | _after(c.after)
            )
        elif c.kind is reconcile.ChangeKind.REMOVE:
            out["remove"].append({"id": c.entry_id, "file": c.path, "after_run": c.deferred})
        elif c.kind is reconcile.ChangeKind.REJECT:
            problems = [p.as_dict() for p in c.problems]
            out["rejected"].append({"file": c.path, "entry_id": c.entry_id, "problems": problems})
    extra: dict[str, Any] = {}
    if guarded is not None:
        extra = {
            "revision": {
                "own": guarded.own,
                "store": guarded.stored,
                "standing": guarded.standing.value,
            },
            "kept": [
                {"id": c.entry_id, "file": c.path, "change": c.kind.value} for c in guarded.kept
            ],
        }
    return {**out, "unchanged": plan.unchanged, **extra}


def _after(entry: model.Entry) -> dict[str, Any]:
    return {"status": entry.status.value, "next_run": wallclock.iso(entry.earliest_start)}


def set_status_json(decided: lifecycle.StatusChange, entry: model.Entry) -> dict[str, Any]:
    """`set-status --json`: what was decided and the entry as stored now."""
    return {"changed": decided.changed, "message": decided.message, "entry": entry_json(entry)}


def trigger_json(entry: model.Entry, woken: bool) -> dict[str, Any]:
    """`trigger --json`: what was asked for."""
    t = entry.trigger
    assert t is not None
    return {
        "requested": "trigger",
        "entry_id": entry.id,
        "by": t.by,
        "at": wallclock.iso(t.at),
        "status": t.status.value,
        "next_run": wallclock.iso(t.next_run),
        "runner": woken,
    }


def cancel_json(entry: model.Entry) -> dict[str, Any]:
    """`cancel --json`: what was asked for."""
    return {
        "requested": "cancel",
        "entry_id": entry.id,
        "session_id": entry.session_id,
        "by": entry.cancel,
    }


def pause_json(p: model.Pause) -> dict[str, Any]:
    """A pause in `pause --json`, `resume --json` and `list`/`show`'s `paused`."""
    return {"category": p.category, "by": p.by, "since": wallclock.iso(p.at)}


def resume_json(category: str | None, paused: Sequence[model.Pause]) -> dict[str, Any]:
    """`resume --json`: what was resumed and what stays paused."""
    return {"resumed": category, "paused": [pause_json(p) for p in paused]}
