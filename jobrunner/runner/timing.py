"""When the loop wakes next: the next due entry (slept exactly when it is near), the
sessions' deadlines, the group commit's window, the store's retry, the watchdog and the
next pruning pass; and, with time to spare, getting the executor ready for the next
due entry's job. Every function takes the time read by the loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobrunner import control, lifecycle, notify, objects, pruning, recurrence
from jobrunner.runner.commits import GroupCommit
from jobrunner.runner.sessions import SessionTable
from jobrunner.runner.shared import Shared

PRECISE = 0.005  # seconds before a due instant slept exactly (a long wait can end late)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


class Timing:
    def __init__(
        self,
        shared: Shared,
        table: SessionTable,
        commits: GroupCommit,
        pruner: pruning.Pruner,
        notifier: notify.Notifier,
        *,
        until_idle: bool,
        horizon: timedelta,
    ) -> None:
        self.shared, self.table, self.commits = shared, table, commits
        self.pruner, self.notifier = pruner, notifier
        self.until_idle, self.horizon = until_idle, horizon
        self._prepared_task: str | None = None
        self._prepared_refs: set[str] = set()

    def next_due(self) -> datetime | None:
        if control.runner_paused(self.shared.paused):
            return None  # nothing starts: nothing is due
        unheld = self.shared.unheld
        if not unheld:
            return self.shared.store.next_task_due()
        # the runs left to runners that hold their definitions are due, but not here
        for task in self.shared.store.due_tasks(FAR_FUTURE, len(unheld) + 1):
            if not (task.object == lifecycle.DISPATCH and task.entry_id in unheld):
                return task.not_before
        return None

    def due_soon(self, now: datetime) -> datetime | None:
        """The due instant of the next entry when it is less than PRECISE away. epoll
        wakes on millisecond boundaries (rounded up) and a long wait can end late, so the
        runner wakes a little early, plans the starts for that instant, sleeps exactly
        until it and then commits and starts them: a due entry starts on time."""
        if len(self.table) >= self.shared.cfg.workers:
            return None
        due = self.next_due()
        if due is None:
            return None
        left = (due - now).total_seconds()
        return due if 0 < left < PRECISE else None

    def idle(self, now: datetime) -> bool:
        # Every enqueue waits at least ENQUEUE_MARGIN (BC), so "due within the horizon"
        # allows for it: a new entry or a quick retry still runs in --until-idle.
        if self.table or self.commits.unwritable:
            return False
        due = self.next_due()
        return due is None or due > now + self.horizon + recurrence.ENQUEUE_MARGIN

    def sleep_for(self, now: datetime, mono: float) -> float:
        """Seconds the loop may sleep (woken earlier by what the wakeup watches)."""
        waits: list[float] = []
        writable = not self.commits.unwritable
        free = len(self.table) < self.shared.cfg.workers and writable
        # with every worker busy, a session's end is what comes next (no read needed)
        due = self.next_due() if free else None
        if due is not None:
            # the kernel may end a wait late by 0.1% of its length (timer slack, up to
            # 100 ms): a long wait ends that much earlier and the next, short one is exact
            left = (due - now).total_seconds() - PRECISE / 2
            waits.append(left - min(max(left, 0.0) * 0.002, 0.25))
        deadline = self.table.next_deadline()
        if deadline is not None:
            waits.append(deadline - mono)
        if self.notifier.watchdog is not None:
            waits.append(self.notifier.watchdog.total_seconds())
        if self.until_idle and not self.table and due is not None:
            waits.append((due - now).total_seconds())
        if self.commits.retry_at_mono is not None:
            waits.append(self.commits.retry_at_mono - mono)
        flush = self.commits.flush_in(mono)
        if flush is not None:
            waits.append(flush)
        # the next pruning pass (at most a day away: epoll cannot wait longer than ~24.8
        # days); none while the store cannot be written (the retry above comes first)
        if writable:
            waits.append(self.pruner.wait(now))
        waits.append(pruning.MAX_GAP.total_seconds())
        wait = max(0.0, min(waits))
        if wait > PRECISE and due is not None and due > now:
            self._prepare_next(now)  # time to spare: get ready for what is due next
        return wait

    def _prepare_next(self, now: datetime) -> None:
        """Let the executor get ready for the next due entry's job before it is due (with
        a worker free: with every worker busy a session's end comes first, and with it
        the next pass to prepare in; and when something is due later: an entry already
        due waits for a worker, not for its time)."""
        shared = self.shared
        if not shared.cfg.session_preload:
            return
        upcoming = shared.store.due_tasks(FAR_FUTURE, 1)
        if not upcoming or upcoming[0].id == self._prepared_task:
            return
        task = upcoming[0]
        if task.not_before is not None and task.not_before <= now:
            return  # already due: it waits for a free worker, not for its time
        self._prepared_task = task.id
        if task.object != lifecycle.DISPATCH:
            return
        entry = shared.store.get_entry(task.entry_id or "")
        if entry is None:
            return
        try:
            ref = objects.resolve_ref(entry.spec.object_id, shared.cfg.objects)
        except objects.UnresolvedObject:
            return
        if ref not in self._prepared_refs:
            self._prepared_refs.add(ref)
            self.table.executor.prepare(ref)

    def forget_prepared(self) -> None:
        """A new executor: nothing is prepared in it."""
        self._prepared_task, self._prepared_refs = None, set()
