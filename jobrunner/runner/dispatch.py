"""Dispatch: due tasks -> start Steps (BC's Task Scheduler picking up due tasks). An
entry's task runs the job queue dispatcher for it (`scheduler.dispatch` decides); any
other task runs its own object. What a start does once committed is to ask the session
table for its session."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from jobrunner import (
    control,
    executor,
    lifecycle,
    model,
    objects,
    permissions,
    reports,
    scheduler,
    taskflow,
    wallclock,
)
from jobrunner.reports import runs as reports_runs
from jobrunner.runner import sessions
from jobrunner.runner.commits import Step
from jobrunner.runner.shared import Shared, dims


class Dispatcher:
    def __init__(self, shared: Shared, table: sessions.SessionTable) -> None:
        self.shared, self.table = shared, table

    def plan_starts(self, now: datetime, mono: float, *, stopping: bool) -> list[Step]:
        shared = self.shared
        free = shared.cfg.workers - len(self.table)
        if stopping or free <= 0 or control.runner_paused(shared.paused):
            return []
        if not shared.may_start(mono):  # its lease may have lapsed: others may take its runs
            return []
        busy = self.table.busy() | shared.busy_elsewhere(None)  # on any runner
        busy |= control.paused_categories(shared.paused)  # their runs wait
        return self._plan_due(now, mono, free, busy)

    def _plan_due(self, now: datetime, mono: float, free: int, busy: set[str]) -> list[Step]:
        """Up to `free` due tasks, planned. The runs of entries whose definitions this
        runner's checkout does not hold are passed over (not counted); finding one among
        the tasks read means reading again, further."""
        unheld = self.shared.unheld
        steps: list[Step] = []
        seen: set[str] = set()
        taken = 0
        while True:
            left = len(unheld)
            due = self.shared.store.due_tasks(now, free + left)
            entries = self.shared.store.entries_by_id(  # (one read, not one per task)
                t.entry_id for t in due if t.object == lifecycle.DISPATCH and t.entry_id
            )
            for task in due:
                if taken == free:
                    return steps
                if task.id in seen or _left(task, unheld):
                    continue
                seen.add(task.id)
                before = len(unheld)
                step = self._plan(task, entries, now, mono, busy)
                taken += len(unheld) == before
                if step is not None:
                    steps.append(step)
            if taken == free or len(unheld) == left or len(due) < free + left:
                return steps

    def _plan(
        self,
        task: model.Task,
        entries: dict[str, model.Entry],
        now: datetime,
        mono: float,
        busy: set[str],
    ) -> Step | None:
        if task.object != lifecycle.DISPATCH:
            return self._plan_task(task, now, mono)
        entry = entries.get(task.entry_id or "")
        if entry is not None and not self.shared.holds(entry):
            self.shared.unheld.add(entry.id)  # a definition of a checkout it does not have
            return None
        return self._plan_entry(task, entry, now, mono, busy)

    def _plan_entry(
        self,
        task: model.Task,
        entry: model.Entry | None,
        now: datetime,
        mono: float,
        busy: set[str],
    ) -> Step | None:
        if entry is None or entry.system_task_id != task.id:
            return None
        decision = scheduler.dispatch(entry, now, busy)
        if decision.kind == scheduler.Act.START:
            if entry.spec.category:
                busy.add(entry.spec.category)
            return self._plan_start(entry, now, mono)
        if decision.kind == scheduler.Act.SKIP:
            return None
        log = self.shared.log

        def then(_: list[int]) -> None:
            log.info(decision.event, **dims(decision.entry), **decision.fields)

        return Step(
            model.Transition(reason=decision.kind, put=(decision.entry,)), then, replanned=True
        )

    def _plan_start(self, entry: model.Entry, now: datetime, mono: float) -> Step:
        shared = self.shared
        session_id = uuid.uuid4().hex
        user = entry.spec.user or shared.user
        in_process, log = scheduler.started(
            entry, session_id=session_id, runner_id=shared.runner_id, now=now, user=user
        )
        run = sessions.running(
            shared.sessions_dir, session_id, entry.id, user, category=entry.spec.category
        )
        request = self._entry_request(entry, run)
        announce = dims(in_process)

        def then(numbers: list[int]) -> None:
            run.log_no = numbers[0]
            run.log = dataclasses.replace(log, entry_no=numbers[0])
            run.entry = dataclasses.replace(in_process, version=in_process.version + 1)
            if entry.trigger is not None and _first_triggered(entry, entry.trigger):
                asked = wallclock.iso(entry.trigger.at)
                shared.log.info("run_triggered", **announce, by=entry.trigger.by, asked_at=asked)
            if self.table.launch(run, request, entry.spec.timeout, mono):
                shared.log.info("run_started", **announce)

        # no fsync of its own: made durable by the next durable commit, the run's end at the
        # latest (a runner crash cannot lose it; see the README's state store section)
        return Step(
            model.Transition(reason="run_started", put=(in_process,), log_insert=(log,)),
            then,
            durable=False,
            replanned=True,
        )

    def _entry_request(self, entry: model.Entry, run: sessions.Running) -> executor.SessionRequest:
        spec = entry.spec
        record = {
            "id": spec.id,
            "description": spec.description,
            "object_id": spec.object_id,
            "category": spec.category,
            "attempts": entry.attempts,
            "max_retries": spec.max_retries,
            "earliest_start": wallclock.iso(entry.earliest_start),
            "user": run.user,
        }
        return self._request(
            run,
            spec.object_id,
            entry=record,
            parameter=spec.parameter_string,
            attempt=entry.attempts + 1,
            user=spec.user,
            environment=spec.environment,
            report=self._report(spec, run),
            fence=entry.version + 1,  # as the start commits it (compare-and-set)
            pool=(spec.session_mode or self.shared.cfg.session_mode) == "pool",
        )

    def _report(self, spec: model.JobSpec, run: sessions.Running) -> reports.ReportRequest | None:
        """A report entry's document (where its session writes it), else None."""
        limit = self.shared.cfg.report_output_limit
        return reports_runs.request(spec, self.shared.sessions_dir, run.session_id, limit)

    def _request(
        self, run: sessions.Running, object_id: int | str, *, user: str | None, **fields: Any
    ) -> executor.SessionRequest:
        """The request for `run`'s session: its object resolved, or why it may not run."""
        shared = self.shared
        ref, refusal = "", ""
        try:
            ref = objects.resolve_ref(object_id, shared.cfg.objects)
        except objects.UnresolvedObject as exc:
            refusal = str(exc)
        else:
            refusal = permissions.run_refusal(shared.cfg.users, run.user, object_id, ref) or ""
        return executor.SessionRequest(
            session_id=run.session_id,
            ref=ref,
            refusal=refusal,
            user=user if user and user != shared.user else None,
            keep=shared.cfg.session_environment,
            result_path=str(run.result_path),
            output_path=str(run.output_path),
            **fields,
        )

    def _plan_task(self, task: model.Task, now: datetime, mono: float) -> Step:
        shared = self.shared
        session_id = uuid.uuid4().hex
        user = task.user or shared.user
        claimed = dataclasses.replace(task, session_id=session_id, runner_id=shared.runner_id)
        log = taskflow.started(task, session_id=session_id, user=user, now=now)

        def then(numbers: list[int]) -> None:
            run = sessions.running(
                shared.sessions_dir,
                session_id,
                task.entry_id or "",
                user,
                log_no=numbers[0],
                task=dataclasses.replace(claimed, version=claimed.version + 1),
            )
            run.log = dataclasses.replace(log, entry_no=numbers[0])
            request = self._task_request(task, run)
            shared.log.info("task_started", **taskflow.fields(task, session_id))
            self.table.launch(run, request, task.timeout, mono)

        return Step(
            model.Transition(reason="task_started", task_put=(claimed,), log_insert=(log,)),
            then,
            durable=False,
            replanned=True,
        )

    def _task_request(self, task: model.Task, run: sessions.Running) -> executor.SessionRequest:
        return self._request(
            run,
            taskflow.object_id(task),
            entry={"id": task.entry_id, "task_id": task.id},
            parameter=task.parameter,
            attempt=task.attempts + 1,
            error=taskflow.error_of(task),
            user=task.user,
            environment=self._task_environment(task),
            fence=task.version + 1,
            pool=self.shared.cfg.session_mode == "pool",
        )

    def _task_environment(self, task: model.Task) -> dict[str, str]:
        """The environment of a failure handler's session: its entry's, as defined now.
        Only for a session of the entry's own account: a task anyone may create names
        its entry, and must not read the variables of another account's entry."""
        if task.phase != model.Phase.FAILURE or not task.entry_id:
            return {}
        entry = self.shared.store.get_entry(task.entry_id)
        if entry is None or (entry.spec.user or "") != task.user:
            return {}
        return entry.spec.environment


def _left(task: model.Task, unheld: set[str]) -> bool:
    """Whether the task is the run of an entry whose definition this runner's checkout
    does not hold (left to others; its due time stays as it is)."""
    return task.object == lifecycle.DISPATCH and task.entry_id in unheld


def _first_triggered(entry: model.Entry, t: model.Trigger) -> bool:
    """Whether the run about to start is the one `jobrunner trigger` asked for (not a
    retry of it: a run started since)."""
    return entry.last_run_at is None or entry.last_run_at < t.at
