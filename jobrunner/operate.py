"""What the acting commands do: each changes the store in one transaction and wakes a
running runner (set-status, mark-error, prune-log), or runs a copy of an entry in this
terminal (run-once). Thin: decisions come from `lifecycle`."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner import (
    config,
    control,
    errors,
    executor,
    finishing,
    lifecycle,
    model,
    objects,
    permissions,
    pruning,
    reports,
    scheduler,
    session,
    statedir,
    store,
    wake,
)
from jobrunner.reports import outputs as reports_outputs
from jobrunner.reports import runs as reports_runs


def _now() -> datetime:
    return datetime.now(UTC)


def set_status(
    cfg: config.Config, db: store.Store, entry_id: str, wanted: model.EntryStatus
) -> lifecycle.StatusChange:
    """What was decided (and written, when it changed the entry). Retries once if the
    runner wrote the entry meanwhile."""
    for _ in range(3):
        entry = db.get_entry(entry_id)
        if entry is None:
            raise errors.UnknownEntry(entry_id, [e.id for e in db.list_entries()])
        decided = lifecycle.set_status(entry, wanted, _now())
        if decided.entry is None:
            return decided
        try:
            db.commit(model.Transition(reason="set_status", put=(decided.entry,)))
        except store.StoreConflict:
            continue
        wake.send(cfg.state_dir)
        return decided
    raise errors.JobRunnerError(f"{entry_id} kept changing; try again")


def _entry(db: store.Store, entry_id: str) -> model.Entry:
    entry = db.get_entry(entry_id)
    if entry is None:
        raise errors.UnknownEntry(entry_id, [e.id for e in db.list_entries()])
    return entry


def trigger(
    cfg: config.Config, db: store.Store, entry_id: str, *, by: str | None = None
) -> tuple[model.Entry, bool]:
    """Ask for a run of the entry now (the running runner's, or the next one's); its
    schedule is kept. Returns the entry as stored and whether a runner was woken. `by`:
    who asks (default: this process's account)."""
    for _ in range(3):
        entry = _entry(db, entry_id)
        try:
            asked = control.trigger(entry, by or permissions.current_user(), _now())
        except control.Refused as exc:
            raise errors.JobRunnerError(str(exc)) from None
        try:
            db.commit(model.Transition(reason="trigger", put=(asked,)))
        except store.StoreConflict:
            continue
        woken = wake.send(cfg.state_dir)
        return dataclasses.replace(asked, version=asked.version + 1), woken
    raise errors.JobRunnerError(f"{entry_id} kept changing; try again")


def cancel(
    cfg: config.Config, db: store.Store, target: str, *, by: str | None = None
) -> model.Entry:
    """Ask the running runner to end the run in process of an entry (by its id or its
    session's id). Refused when no runner is running (none could end it). `by`: who
    asks (default: this process's account)."""
    for _ in range(3):
        entry = db.get_entry(target)
        if entry is None:
            entry = next((e for e in db.list_entries() if e.session_id == target), None)
        if entry is None:
            known = [e.id for e in db.list_entries()]
            raise errors.UnknownEntry(target, known)
        try:
            asked = control.cancel(entry, by or permissions.current_user(), _now())
        except control.Refused as exc:
            raise errors.JobRunnerError(str(exc)) from None
        if not wake.send(cfg.state_dir):
            raise errors.JobRunnerError(
                f"no runner is running on {cfg.state_dir}: nothing runs {entry.id}'s session"
            )
        try:
            db.commit(model.Transition(reason="cancel", put=(asked,)))
        except store.StoreConflict:
            continue
        wake.send(cfg.state_dir)
        return dataclasses.replace(asked, version=asked.version + 1)
    raise errors.JobRunnerError(f"{target} kept changing; try again")


def pause(cfg: config.Config, db: store.Store, category: str | None) -> model.Pause:
    """Pause the runner (no new run or task starts) or a category's entries; durable."""
    p = _pause_checked(db, category)
    db.commit(model.Transition(reason="pause", pause_put=(p,)))
    wake.send(cfg.state_dir)
    return p


def _pause_checked(db: store.Store, category: str | None) -> model.Pause:
    try:
        return control.pause(db.pauses(), category, permissions.current_user(), _now())
    except control.Refused as exc:
        raise errors.JobRunnerError(str(exc)) from None


def resume(cfg: config.Config, db: store.Store, category: str | None) -> None:
    """Lift a pause; of a category, the entry of it that waited longest (priority, then
    first come) is made ready at once, unless one of the category is in process."""
    for _ in range(3):
        try:
            control.resume(db.pauses(), category)
        except control.Refused as exc:
            raise errors.JobRunnerError(str(exc)) from None
        puts: list[model.Entry] = []
        if category is not None and not db.list_entries(
            status=model.EntryStatus.IN_PROCESS, category=category
        ):
            activated, expired = scheduler.activation(db.waiting_entries(category), _now())
            puts = expired + ([activated] if activated else [])
        try:
            db.commit(model.Transition(reason="resume", put=tuple(puts), pause_delete=(category,)))
        except store.StoreConflict:
            continue
        wake.send(cfg.state_dir)
        return
    raise errors.JobRunnerError("the entries kept changing; try again")


def mark_error(cfg: config.Config, db: store.Store, log_no: int, *, by: str | None = None) -> str:
    """Close a log entry stuck in process as an error (BC's MarkAsError); `by`: who asks
    (default: this process's account). Returns the error message written."""
    log = db.get_log(log_no)
    if log is None:
        raise errors.JobRunnerError(f"no log entry number {log_no}")
    entry = db.get_entry(log.entry_id)
    try:
        closed, failed = lifecycle.mark_error(log, entry, by or permissions.current_user(), _now())
    except ValueError as exc:
        raise errors.JobRunnerError(str(exc)) from None
    db.commit(
        model.Transition(reason="mark_error", log_update=(closed,), put=(failed,) if failed else ())
    )
    wake.send(cfg.state_dir)
    return closed.error_message


def prune_log(cfg: config.Config, db: store.Store, older_than: timedelta) -> int:
    removed = db.prune(_now() - older_than)
    if removed:
        pruning.prune_outputs(cfg, db)  # report documents go with their log entries
    return removed


def run_once(cfg: config.Config, db: store.Store, spec: model.JobSpec) -> model.Outcome:
    """BC's "Run once (foreground)": a copy of the entry runs here and now, with the UI
    allowed; a foreground log entry and session events are written; the entry itself is
    left as it is."""
    user = permissions.current_user()
    ref = objects.resolve_ref(spec.object_id, cfg.objects)
    session_id = uuid.uuid4().hex
    request = executor.SessionRequest(
        session_id=session_id,
        ref=ref,
        refusal=permissions.run_refusal(cfg.users, user, spec.object_id, ref) or "",
        parameter=spec.parameter_string,
        entry={"id": spec.id, "description": spec.description},
        report=_report_request(cfg, spec, session_id),
    )
    log = _foreground_started(db, spec, request.session_id, user)
    outcome = _run_here(request, spec.environment)
    if spec.object_type == "report":  # its document goes with the foreground log entry
        outcome = _report_kept(cfg, db, log, outcome)
    _foreground_ended(db, log, outcome)
    return outcome


def _run_here(request: executor.SessionRequest, environment: dict[str, str]) -> model.Outcome:
    """The job of `request` run in this process (a refused one does not run)."""
    result: dict[str, Any]
    if request.refusal:
        result = {"ok": False, "message": request.refusal, "stack": ""}
    else:
        with _environment(environment):
            result = session.execute(request.wire())
    return model.Outcome(
        ok=bool(result["ok"]),
        message=result.get("message", ""),
        stack=result.get("stack", ""),
        cause=model.Cause.EXCEPTION,
    )


def _foreground_started(
    db: store.Store, spec: model.JobSpec, session_id: str, user: str
) -> model.LogEntry:
    """The foreground run's log entry, written (numbered) with its session's logon."""
    start = _now()
    log = model.LogEntry(
        entry_id=spec.id,
        start_at=start,
        user=user,
        object_type=spec.object_type,
        object_id=str(spec.object_id),
        parameter_string=spec.parameter_string,
        description=spec.description,
        session_id=session_id,
        attempt=1,
        client_type=model.ClientType.FOREGROUND,
    )
    (number,) = db.commit(
        model.Transition(
            reason="run_once",
            log_insert=(log,),
            events=(_foreground(session_id, "logon", start, user, spec.id),),
        )
    )
    return dataclasses.replace(log, entry_no=number)


def _foreground_ended(db: store.Store, log: model.LogEntry, outcome: model.Outcome) -> None:
    """The foreground run's log entry closed, with its session's logoff."""
    end = _now()
    closed = dataclasses.replace(
        log,
        end_at=end,
        status=model.LogStatus.SUCCESS if outcome.ok else model.LogStatus.ERROR,
        error_message="" if outcome.ok else finishing.first_line(outcome.message),
        error_call_stack="" if outcome.ok else outcome.stack,
    )
    result = "success" if outcome.ok else "error"
    logoff = _foreground(log.session_id, "logoff", end, log.user, log.entry_id, result)
    db.commit(model.Transition(reason="run_once", log_update=(closed,), events=(logoff,)))


def _sessions(cfg: config.Config) -> Path:
    return cfg.state_dir / "sessions"


def _report_request(
    cfg: config.Config, spec: model.JobSpec, session_id: str
) -> reports.ReportRequest | None:
    """A report entry's `report` for a foreground session (its document in `sessions/`)."""
    report = reports_runs.request(spec, _sessions(cfg), session_id, cfg.report_output_limit)
    if report is not None:
        statedir.make_dir(_sessions(cfg))
    return report


def _report_kept(
    cfg: config.Config, db: store.Store, log: model.LogEntry, outcome: model.Outcome
) -> model.Outcome:
    docs = reports_outputs.of(cfg, db)
    return reports_runs.kept(docs, _sessions(cfg), log.session_id, log, outcome)


@contextlib.contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    """This process's environment with the entry's `variables` set over it, for the
    block (a foreground session runs here, as the terminal's account)."""
    before = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _foreground(
    session_id: str, event: str, at: datetime, user: str, entry_id: str, comment: str = ""
) -> model.SessionEvent:
    return model.SessionEvent(
        session_id=session_id,
        event=event,
        at=at,
        user=user,
        client_type=model.ClientType.FOREGROUND,
        entry_id=entry_id,
        pid=os.getpid(),
        comment=comment,
    )
