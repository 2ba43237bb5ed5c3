"""Recovery: close what the runner before left in process (it died during those runs).

A run whose session left a whole result ends as that result says, exactly as if this
runner had seen the session end; any other was killed while its job was working: its
log entry becomes an error, with what its session wrote, and its entry (or task) takes
the retriable-failure path, once. Every session left open gets its logoff, and the
work items of sessions that are over go back to pending. Then the sessions' files of
the runner before go.

With a store shared by several runners, only the runs and sessions of the `dead`
runners are recovered, each by compare-and-set: one that ended meanwhile, or that
another runner recovered first, is left as it is. Only those of `local` runners (the
runners before this one in its folder) had their sessions and files here."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Iterator
from datetime import datetime

from jobrunner import cluster, executor, lifecycle, model, scheduler
from jobrunner.items import shell as items_shell
from jobrunner.runner import sessions
from jobrunner.runner.commits import GroupCommit
from jobrunner.runner.endings import Endings
from jobrunner.runner.shared import Shared, dims
from jobrunner.store import SharedStore, Store, StoreConflict


class Recovery:
    def __init__(self, shared: Shared, endings: Endings, commits: GroupCommit) -> None:
        self.shared, self.endings, self.commits = shared, endings, commits
        self._local: set[str] | None = None  # runners whose sessions were here (None: all)

    def recover(
        self,
        now: datetime,
        mono: float,
        *,
        dead: set[str] | None = None,
        local: set[str] | None = None,
        starting: bool = True,
    ) -> None:
        store = self.shared.store
        self._local = local
        guard = contextlib.nullcontext if dead is None else _recovered_elsewhere
        open_logs = store.list_log(status=model.LogStatus.IN_PROCESS)
        entries = store.list_entries(status=model.EntryStatus.IN_PROCESS)
        for entry in entries if dead is None else cluster.orphaned(entries, dead):
            with guard():
                self._entry(entry, open_logs, now, mono)
        sessions_of = _open_sessions(store, dead)
        tasks = _tasks_of(store.list_tasks(), dead, sessions_of)
        if sessions_of is not None:  # (a task's own: its session may have no logon yet)
            sessions_of |= {task.session_id or "" for task in tasks}
        for task in tasks:
            with guard():
                self._task(task, open_logs, now, mono)
        self.commits.flush(mono, wait=True)  # the ends above, durable before their files go
        self._close_logs(now, sessions_of)
        self._close_sessions(now, sessions_of)
        shared = self.shared  # the sessions now over may still hold work items
        items_shell.recovered(store, now, shared.log, shared.item_failed_finally)
        if not starting:
            return
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

    def _close_logs(self, now: datetime, sessions_of: set[str] | None) -> None:
        """Log entries left in process by a run that moved on (of these sessions)."""
        store = self.shared.store
        for row in store.list_log(status=model.LogStatus.IN_PROCESS):
            if sessions_of is not None and row.session_id not in sessions_of:
                continue
            owner = store.get_entry(row.entry_id)
            moved_on = owner is None or owner.status is not model.EntryStatus.IN_PROCESS
            if moved_on or sessions_of is not None:
                closed = dataclasses.replace(
                    row, status=model.LogStatus.ERROR, end_at=now, error_message=scheduler.CRASHED
                )
                store.commit(model.Transition(reason="recovered", log_update=(closed,)))

    def _entry(
        self, entry: model.Entry, open_logs: list[model.LogEntry], now: datetime, mono: float
    ) -> None:
        if entry.session_pid and (self._local is None or entry.runner_id in self._local):
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
        again = dataclasses.replace(task, session_id=None, runner_id=None)  # it runs again
        self.shared.store.commit(model.Transition(reason="recovered", task_put=(again,)))

    def _close_sessions(self, now: datetime, only: set[str] | None) -> None:
        """A logoff for each background session the runners before left without one
        (of these sessions only, with `only`)."""
        events = self.shared.store.list_sessions()
        if only is not None:
            events = [e for e in events if e.session_id in only]
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


def _open_sessions(store: Store, dead: set[str] | None) -> set[str] | None:
    """The sessions of the `dead` runners with no logoff (None: every session)."""
    if dead is None:
        return None
    assert isinstance(store, SharedStore)
    return {e.session_id for e in store.open_sessions(dead)}


def _tasks_of(
    tasks: list[model.Task], dead: set[str] | None, sessions_of: set[str] | None
) -> list[model.Task]:
    """The tasks in a session of the `dead` runners (None: in any session): a session
    their logons name, or a task that names one of them as its session's runner (killed
    after committing the task's start, before its session's logon)."""
    return [
        task
        for task in tasks
        if task.session_id is not None
        and task.object != lifecycle.DISPATCH
        and (
            dead is None
            or (sessions_of is not None and task.session_id in sessions_of)
            or task.runner_id in dead
        )
    ]


@contextlib.contextmanager
def _recovered_elsewhere() -> Iterator[None]:
    """A recovery that finds its rows changed: another runner got there first, or the
    run ended meanwhile; what is stored stands."""
    with contextlib.suppress(StoreConflict):
        yield
