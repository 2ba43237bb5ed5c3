"""Endings: what the session table reports (logons, ends) -> Steps. The end of an
entry's run is decided whole by `scheduler.run_end`, of a task's by
`taskflow.task_ended`; this part reads what they need and carries out what follows."""

from __future__ import annotations

import dataclasses
import os
import signal
from datetime import datetime
from pathlib import Path
from typing import Any

from jobrunner import control, executor, finishing, model, scheduler, taskflow, telemetry
from jobrunner.items import shell as items_shell
from jobrunner.reports import runs as reports_runs
from jobrunner.runner import sessions
from jobrunner.runner.commits import Step
from jobrunner.runner.shared import Shared, dims


class Endings:
    def __init__(self, shared: Shared, table: sessions.SessionTable) -> None:
        self.shared, self.table = shared, table

    def plan(
        self,
        logons: list[sessions.LoggedOn],
        ends: list[sessions.Ended],
        now: datetime,
        forced: model.Outcome | None = None,
    ) -> list[Step]:
        """Steps for sessions that started (their logons) and sessions that ended (their
        ends); `forced` is the outcome of every end. A session that started and ended
        within one pass gets its logon event but no pid on its entry (one write each)."""
        steps = [self.plan_logon(on.run, now, mark=not on.also_ended) for on in logons]
        results = [self._result(end, forced) for end in ends]
        self._release_items([e.run for e, r in zip(ends, results, strict=True) if r.items], now)
        for end, result in zip(ends, results, strict=True):
            steps.append(self._plan_end(end.run, result, now, end.status))
        return steps

    def _result(self, end: sessions.Ended, forced: model.Outcome | None) -> model.Outcome:
        if forced is not None:
            return self.forced(end.run, forced)
        if end.outcome is not None:
            return end.outcome
        return self._outcome(end.run, end.status or 0)

    def forced(self, run: sessions.Running, result: model.Outcome) -> model.Outcome:
        """`result` (the runner ended the run), with what the session wrote so far."""
        return dataclasses.replace(result, output=self.output(run.output_path))

    def output(self, path: Path) -> str:
        return executor.read_output(path, self.shared.cfg.output_limit)

    def _outcome(self, run: sessions.Running, status: int) -> model.Outcome:
        output = self.output(run.output_path)
        if run.cancel_by:
            return control.cancelled(run.cancel_by, output)
        return executor.outcome(
            run.result_path,
            output,
            status,
            timed_out=run.timed_out,
            retriable=self.shared.cfg.retriable_exceptions,
        )

    def session_event(
        self, run: sessions.Running, event: str, now: datetime, comment: str = ""
    ) -> model.SessionEvent:
        return model.SessionEvent(
            session_id=run.session_id,
            event=event,
            at=now,
            user=run.user,
            runner_id=self.shared.runner_id,
            entry_id=run.entry_id,
            pid=run.pid or None,
            comment=comment,
        )

    def plan_logon(
        self, run: sessions.Running, now: datetime, *, fresh: bool = False, mark: bool = True
    ) -> Step:
        """The session's logon event, and (`mark`) its pid on the entry (to find it after
        a crash)."""
        event = self.session_event(run, "logon", now)
        put: tuple[model.Entry, ...] = ()
        entry = self._entry_of(run, fresh) if mark else None
        if entry is not None:
            logged_on = dataclasses.replace(
                entry,
                session_pid=run.pid,
                updated_at=now,
                session_started=self.table.executor.identity(run.pid),
            )
            put = (logged_on,)
            run.entry = dataclasses.replace(logged_on, version=logged_on.version + 1)
        log = self.shared.log

        def then(_: list[int]) -> None:
            log.info(
                "session_logon",
                session_id=run.session_id,
                entry_id=run.entry_id,
                pid=run.pid,
                user=run.user,
                client_type="background",
            )

        return Step(
            model.Transition(reason="session_logon", put=put, events=(event,)),
            then,
            redo=lambda: self.plan_logon(run, now, fresh=True, mark=mark),
            durable=False,
        )

    def _log_of(self, run: sessions.Running, fresh: bool) -> model.LogEntry:
        """The log entry of a run in process: as this runner inserted it, or read."""
        store = self.shared.store
        log = run.log if run.log is not None and not fresh else store.get_log(run.log_no)
        assert log is not None
        return log

    def _entry_of(self, run: sessions.Running, fresh: bool) -> model.Entry | None:
        """The entry of a run in process: as this runner last committed it, or read."""
        if run.task is not None:
            return None
        entry = run.entry if run.entry is not None and not fresh else None
        if entry is None:
            entry = self.shared.store.get_entry(run.entry_id)
        return entry if entry is not None and entry.session_id == run.session_id else None

    def plan_end(
        self, run: sessions.Running, result: model.Outcome, now: datetime, status: int | None
    ) -> Step:
        """The end of a run: an entry's or a task's. Every end comes here (a session
        that ended, timed out, was killed or went with the fork server; `plan` releases
        the items of all its ends at once): the work items its session still held go
        back to pending first (a session whose result says it opened no queue holds
        none: the item store is not asked)."""
        if result.items:
            self._release_items([run], now)
        return self._plan_end(run, result, now, status)

    def _release_items(self, runs: list[sessions.Running], now: datetime) -> None:
        if runs:
            shared, ids = self.shared, [run.session_id for run in runs]
            failed = shared.item_failed_finally
            items_shell.sessions_ended(shared.store, ids, now, shared.log, failed)

    def _plan_end(
        self, run: sessions.Running, result: model.Outcome, now: datetime, status: int | None
    ) -> Step:
        if run.task is not None:
            return self.plan_task_end(run, result, now)
        return self.plan_run_end(run, result, now, status)

    def plan_run_end(
        self,
        run: sessions.Running,
        result: model.Outcome,
        now: datetime,
        status: int | None,
        *,
        fresh: bool = False,
    ) -> Step:
        stored = self._entry_of(run, fresh)
        log = self._log_of(run, fresh)
        if fresh and stored is None and log.status is not model.LogStatus.IN_PROCESS:
            return self._plan_fenced(run, log)
        if log.object_type == "report":  # its document goes with the log entry (or away)
            result = self._report_kept(run, log, result)
        category = stored.spec.category if stored is not None else None
        waiting = self._waiting(category, run.entry_id)
        decided = scheduler.run_end(stored, log, result, now, self.shared.settings, waiting=waiting)
        finish = decided.finish
        logoff = self.session_event(run, "logoff", now, exit_comment(result, status))
        transition = model.Transition(
            reason="run_finished",
            put=decided.put,
            delete=decided.delete,
            log_update=(finish.log,),
            events=(logoff,),
            task_put=(decided.handler,) if decided.handler else (),
        )
        shared, table = self.shared, self.table

        def then(_: list[int]) -> None:
            table.forget(run)
            _log_run_end(shared.log, run, decided, logoff)
            shared.run_ended(run.entry_id, finish.entry, stored, finish.log, finish.last_attempt)

        return Step(
            transition, then, redo=lambda: self.plan_run_end(run, result, now, status, fresh=True)
        )

    def _report_kept(
        self, run: sessions.Running, log: model.LogEntry, result: model.Outcome
    ) -> model.Outcome:
        shared = self.shared
        return reports_runs.kept(shared.outputs, shared.sessions_dir, run.session_id, log, result)

    def _plan_fenced(self, run: sessions.Running, log: model.LogEntry) -> Step:
        """The end of a run that another runner recovered (this one was taken for dead,
        its lease lapsed): what that runner recorded stands; this end is logged and
        dropped (a fenced completion)."""
        shared, table = self.shared, self.table

        def then(_: list[int]) -> None:
            table.forget(run)
            shared.log.warning(
                "run_fenced", entry_id=run.entry_id, session_id=run.session_id, log=log.entry_no
            )

        return Step(model.Transition(reason="fenced"), then)

    def _waiting(self, category: str | None, ending: str) -> list[model.Entry] | None:
        """The waiting entries of `category` when it may activate one (None: it may not),
        as the run of the entry `ending` ends."""
        if not category or category in self.table.busy() | self.shared.busy_elsewhere(ending):
            return None
        if category in control.paused_categories(self.shared.paused):
            return None  # its entries wait until it is resumed
        return self.shared.store.waiting_entries(category)

    def plan_task_end(self, run: sessions.Running, result: model.Outcome, now: datetime) -> Step:
        task = run.task
        assert task is not None
        closed = finishing.close_log(self._log_of(run, fresh=False), now, result)
        after, event = taskflow.task_ended(task, result, now, self.shared.cfg.retry_profile)
        fields = taskflow.fields(task, run.session_id)
        if not result.ok:
            fields["error"] = closed.error_message
        log, table = self.shared.log, self.table

        def then(_: list[int]) -> None:
            table.forget(run)
            getattr(log, "info" if result.ok else "warning")(event, **fields)

        transition = model.Transition(
            reason=event,
            log_update=(closed,),
            task_put=(after,) if after else (),
            task_delete=() if after else ((task.id, task.version),),
            events=(self.session_event(run, "logoff", now, exit_comment(result, None)),),
        )
        return Step(transition, then)


def _log_run_end(
    log: Any,
    run: sessions.Running,
    decided: scheduler.RunEnd,
    logoff: model.SessionEvent,
) -> None:
    log.info(
        "session_logoff",
        session_id=run.session_id,
        entry_id=run.entry_id,
        pid=run.pid or None,
        comment=logoff.comment,
        client_type="background",
    )
    finish = decided.finish
    base = dims(finish.entry) if finish.entry else {"entry_id": run.entry_id}
    for name, fields in finish.events:
        getattr(log, telemetry.level(name))(
            name, **{**base, "session_id": run.session_id, **fields}
        )
    if finish.delete:
        log.info("entry_removed", entry_id=run.entry_id, after_run=True)
    if decided.activated is not None:
        log.info("waiting_activated", **dims(decided.activated))


def exit_comment(result: model.Outcome, status: int | None) -> str:
    if result.ok:
        return "success"
    cause = result.cause or "error"
    if status is not None and os.WIFSIGNALED(status):
        return f"{cause}: signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"{cause}: {finishing.first_line(result.message)}"[:250]
