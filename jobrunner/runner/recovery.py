"""Recovery: close what the runner before left in process (it died during those runs).

A run whose session left a whole result ends as that result says, exactly as if this
runner had seen the session end; any other was killed while its job was working: its
log entry becomes an error, with what its session wrote, and its entry (or task) takes
the retriable-failure path, once. Every session left open gets its logoff. Then the
sessions' files of the runner before go."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from datetime import datetime

from jobrunner import executor, lifecycle, model, scheduler
from jobrunner.runner import sessions
from jobrunner.runner.commits import GroupCommit
from jobrunner.runner.endings import Endings
from jobrunner.runner.shared import Shared, dims


class Recovery:
    def __init__(self, shared: Shared, endings: Endings, commits: GroupCommit) -> None:
        self.shared, self.endings, self.commits = shared, endings, commits

    def recover(self, now: datetime, mono: float) -> None:
        store = self.shared.store
        open_logs = store.list_log(status=model.LogStatus.IN_PROCESS)
        for entry in store.list_entries(status=model.EntryStatus.IN_PROCESS):
            self._entry(entry, open_logs, now, mono)
        for task in store.list_tasks():
            if task.session_id is not None and task.object != lifecycle.DISPATCH:
                self._task(task, open_logs, now, mono)
        self.commits.flush(mono, wait=True)  # the ends above, durable before their files go
        for row in store.list_log(status=model.LogStatus.IN_PROCESS):
            owner = store.get_entry(row.entry_id)
            if owner is None or owner.status is not model.EntryStatus.IN_PROCESS:
                closed = dataclasses.replace(
                    row, status=model.LogStatus.ERROR, end_at=now, error_message=scheduler.CRASHED
                )
                store.commit(model.Transition(reason="recovered", log_update=(closed,)))
        self._close_sessions(now)
        with (
            contextlib.suppress(FileNotFoundError),
            os.scandir(self.shared.sessions_dir) as leftovers,  # no session runs yet
        ):
            for leftover in leftovers:
                with contextlib.suppress(OSError):
                    os.unlink(leftover.path)

    def _recovered(
        self, session_id: str, log: model.LogEntry, *, pid: int = 0, task: model.Task | None = None
    ) -> tuple[sessions.Running, model.Outcome | None]:
        """A run of the runner before as this runner would hold it, and its outcome when
        its session left a whole result (None: it was killed while its job worked)."""
        run = sessions.running(
            self.shared.sessions_dir,
            session_id,
            log.entry_id,
            log.user,
            log_no=log.entry_no,
            task=task,
        )
        run.pid, run.log = pid, log
        result = executor.read_result(run.result_path)
        if result is None:
            return run, None
        output = self.endings.output(run.output_path)
        retriable = self.shared.cfg.retriable_exceptions
        return run, executor.result_outcome(result, output, retriable=retriable)

    def _entry(
        self, entry: model.Entry, open_logs: list[model.LogEntry], now: datetime, mono: float
    ) -> None:
        if entry.session_pid:
            self.endings.table.executor.end_leftover(entry.session_pid, entry.session_started)
        logs = [row for row in open_logs if row.session_id == entry.session_id]
        if logs:
            run, outcome = self._recovered(
                entry.session_id or "", logs[0], pid=entry.session_pid or 0
            )
            if outcome is not None:
                run.category = entry.spec.category
                step = self.endings.plan_run_end(run, outcome, now, None)
                self.commits.commit("recovered", [step], mono)
                return
        transition, after = self._interrupted(entry, logs[0] if logs else None, now)
        self.shared.store.commit(transition)
        self.shared.log.warning("run_recovered", **dims(after), error=scheduler.CRASHED)

    def _interrupted(
        self, entry: model.Entry, open_log: model.LogEntry | None, now: datetime
    ) -> tuple[model.Transition, model.Entry]:
        """The end of a run killed while its job worked (`open_log`: its log entry), and
        the entry as it goes on."""
        log = open_log or model.LogEntry(entry_id=entry.id, start_at=now)
        out = sessions.session_file(self.shared.sessions_dir, entry.session_id or "", "out")
        result = dataclasses.replace(scheduler.INTERRUPTED, output=self.endings.output(out))
        finish = scheduler.finished(entry, log, result, now, self.shared.settings)
        logoff = model.SessionEvent(
            session_id=entry.session_id or "",
            event="logoff",
            at=now,
            user=log.user,
            runner_id=self.shared.runner_id,
            entry_id=entry.id,
            pid=entry.session_pid,
            comment=scheduler.CRASHED,
        )
        return model.Transition(
            reason="recovered",
            put=(finish.entry,) if finish.entry else (),
            log_update=(finish.log,) if open_log else (),
            log_insert=() if open_log else (finish.log,),
            events=(logoff,),
        ), finish.entry or entry

    def _task(
        self, task: model.Task, open_logs: list[model.LogEntry], now: datetime, mono: float
    ) -> None:
        logs = [row for row in open_logs if row.session_id == task.session_id]
        if logs:
            run, outcome = self._recovered(task.session_id or "", logs[0], task=task)
            if outcome is not None:
                step = self.endings.plan_task_end(run, outcome, now)
                self.commits.commit("recovered", [step], mono)
                return
        again = dataclasses.replace(task, session_id=None)  # interrupted: it runs again
        self.shared.store.commit(model.Transition(reason="recovered", task_put=(again,)))

    def _close_sessions(self, now: datetime) -> None:
        """A logoff for each background session the runners before left without one."""
        events = self.shared.store.list_sessions()
        closed = {e.session_id for e in events if e.event == "logoff"}
        logoffs = tuple(
            dataclasses.replace(
                e,
                event="logoff",
                at=now,
                runner_id=self.shared.runner_id,
                comment=scheduler.CRASHED,
                seq=0,
            )
            for e in events
            if e.event == "logon"
            and e.session_id not in closed
            and e.client_type is model.ClientType.BACKGROUND
        )
        if logoffs:
            self.shared.store.commit(model.Transition(reason="recovered", events=logoffs))
