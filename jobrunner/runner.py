"""The runner: the only loop. It alone reads the clock and does I/O; every decision is
made by the pure modules (scheduler, reconcile, recurrence, retry).

It sleeps until the earliest due entry, a file change, a finished session, a deadline or
a signal, then reconciles, reaps, enforces timeouts and dispatches.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import json
import os
import selectors
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner import (
    alerts,
    config,
    control,
    delivery,
    errors,
    executor,
    lifecycle,
    model,
    notify,
    objects,
    permissions,
    pruning,
    reconciler,
    recurrence,
    scheduler,
    session,
    spec,
    statedir,
    taskgate,
    tasks,
    telemetry,
    wake,
    wallclock,
)
from jobrunner.lock import RunnerLock
from jobrunner.store import StoreConflict, StoreLost, StoreUnwritable
from jobrunner.store import open as store_open
from jobrunner.syncer import Syncer, SyncFailed

S = model.EntryStatus
_REFUSED = "!refused:"  # a ref that cannot run: the reason follows
PRECISE = 0.005  # seconds before a due instant slept exactly (a long wait can end late)
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
GROUP_MAX = 64  # durable steps committed before one fsync makes them all durable
GROUP_WINDOW = 0.01  # seconds the oldest of them may wait for it
KILL_WAIT = 5.0  # seconds to see killed sessions go before closing their runs anyway
FINISH_WAIT = 2.0  # seconds a session of the runner before may take to write its result
RETRY_FIRST, RETRY_MAX = 0.1, 30.0  # seconds between tries to write a store that failed
EXIT_STORE_LOST = 3  # the exit status when the state file was deleted or replaced


@dataclass(frozen=True, slots=True)
class Step:
    """A planned state transition, what to do once it is committed (given the numbers of
    its new log entries), and how to plan it again from fresh reads after a conflict."""

    transition: model.Transition
    then: Callable[[list[int]], None]
    redo: Callable[[], Step] | None = None
    durable: bool = True  # False: `then` at once; its durability comes with the next sync
    replanned: bool = False  # True: not kept when it cannot be committed (planned again)


@dataclass(kw_only=True)
class Running:
    """A session this runner started."""

    entry_id: str
    session_id: str
    pid: int
    log_no: int
    user: str
    category: str | None
    deadline: float | None
    result_path: Path
    output_path: Path
    timed_out: str = ""
    cancel_by: str = ""  # who asked to end it (`jobrunner cancel`)
    cancel_sent: bool = False
    timeout: timedelta | None = None
    kill_at: float | None = None
    task: model.Task | None = None
    entry: model.Entry | None = None  # as last committed by this runner (a read saved)
    log: model.LogEntry | None = None  # its log entry as inserted (a read saved)


class Runner:
    def __init__(
        self, cfg: config.Config, *, until_idle: bool = False, horizon: timedelta = timedelta(0)
    ) -> None:
        self.cfg, self.until_idle, self.horizon = cfg, until_idle, horizon
        self.runner_id = uuid.uuid4().hex
        self.user = permissions.current_user()  # the kernel's word, not $LOGNAME's
        self.log = telemetry.get_logger(runner_id=self.runner_id)
        self.settings = scheduler.Settings(
            retry_profile=cfg.retry_profile, on_final_failure=cfg.on_final_failure
        )
        self.running: dict[str, Running] = {}  # by session id
        self._pids: dict[int, str] = {}  # session pid -> session id
        self._prepared_task: str | None = None
        self._unsynced: list[tuple[Step, list[int]]] = []  # committed, not yet durable
        self._unsynced_since = 0.0
        # while the store cannot be written: the steps not committed (ends whose outcome
        # is only here), those committed but not known to be durable, and the next try
        self._held: list[Step] = []
        self._held_synced: list[tuple[Step, list[int]]] = []
        self._retry_at: float | None = None
        self._retry_delay = RETRY_FIRST
        self._wrote = True  # a commit succeeded since the store could last be written again
        self._store_error = ""
        self._syncer: Syncer[tuple[Step, list[int]]] | None = None
        self._selector: selectors.BaseSelector | None = None
        self._watched: set[int] = set()  # executor fds registered with the selector
        self._prepared_refs: set[str] = set()
        self.stopping = False
        self.reload = False
        self._files: set[Path] = set()
        self._files_lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)
        os.set_blocking(self._wake_r, False)
        self.sessions_dir = cfg.state_dir / "sessions"
        self.notifier = notify.Notifier()
        self._paused: list[model.Pause] = []  # as the store says (read when asked)
        self._asked = False  # a command woke the runner: read its requests

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    # --- life cycle ---------------------------------------------------------------------

    def run(self) -> int:
        with RunnerLock(self.cfg.state_dir):
            self.store = store_open.open_store(self.cfg, background_checkpoints=True)
            statedir.make_dir(self.sessions_dir)
            # sessions find their runner's store through these (jobrunner.tasks)
            os.environ["JOBRUNNER_STATE_DIR"] = str(self.cfg.state_dir)
            if self.cfg.path is not None:
                os.environ["JOBRUNNER_CONFIG"] = str(self.cfg.path)
            self.wake_socket = wake.bind(self.cfg.state_dir)
            self.task_socket = taskgate.bind(self.cfg.state_dir)  # other accounts' tasks
            self.executor = self._executor()
            self.reconciler = reconciler.Reconciler(self.cfg, self.store, self.now, self.log)
            self.pruner = pruning.Pruner(self.store, self.cfg, self.log)
            self.alerts = delivery.Alerts(self._alert_settings(), self.store, self.wake, self.log)
            self._syncer = Syncer(self.store.sync, self.wake, after=self.store.upkeep)
            try:
                return self._serve()
            except StoreLost as exc:
                return self._store_lost(exc)
            finally:
                self._syncer.close()
                self.reconciler.stop()
                if self._selector is not None:
                    self._selector.close()
                self.executor.close()
                self.wake_socket.close()
                with contextlib.suppress(OSError):
                    (self.cfg.state_dir / wake.FILE_NAME).unlink(missing_ok=True)
                self.task_socket.close()
                with contextlib.suppress(OSError):
                    (self.cfg.state_dir / taskgate.FILE_NAME).unlink(missing_ok=True)
                self.store.close()

    def _alert_settings(self) -> alerts.Settings:
        return alerts.settings(self.cfg.notify, socket.gethostname())

    def _serve(self) -> int:
        self._signals()
        self._recover()
        self._read_pauses()
        self.reconciler.full()
        _release_memory()  # the start-up reconcile's garbage: give it back to the OS
        if not self.until_idle:
            self.reconciler.watch(self._on_files)
        self.log.info(
            "runner_started",
            pid=os.getpid(),
            mode=self.cfg.session_mode,
            workers=self.cfg.workers,
            jobs_dir=str(self.cfg.jobs_dir),
        )
        self.notifier.send("READY=1", self._status())
        while not self.stopping:
            with telemetry.held():  # a pass's events go out together
                self._tick()
            if self.until_idle and self._idle():
                break
            self._wait(self._sleep_for())
        self._drain()
        self.alerts.close()
        if self._retry_at is not None:
            self._retry_store()
        self._sync(now=True)
        if self._retry_at is not None:
            self.log.error(
                "store_unwritable", error=self._store_error, lost=len(self._held), stopping=True
            )
        self.notifier.send("STOPPING=1")
        self.log.info("runner_stopped")
        return 0

    def _signals(self) -> None:
        signal.set_wakeup_fd(self._wake_w)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, *_: Any) -> None:
        self.stopping = True

    def _on_hup(self, *_: Any) -> None:
        self.reload = True

    def _on_files(self, paths: set[Path]) -> None:
        with self._files_lock:
            self._files |= paths
        self.wake()

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"!")

    # --- the loop -------------------------------------------------------------------------

    def _tick(self) -> None:
        if self.reload:
            self._reload()
        if self._retry_at is not None and time.monotonic() >= self._retry_at:
            self._retry_store()
        if self._retry_at is not None:  # the store cannot be written: start nothing
            self._hold(self._reaped())
            self._enforce_timeouts()
            return
        if self._asked:
            self._requests()
        with self._files_lock:
            files, self._files = self._files, set()
        if files:
            try:
                self.reconciler.paths(files)
            except StoreUnwritable as exc:
                with self._files_lock:
                    self._files |= files  # read again once the store can be written
                self._store_failed(exc)
                return
        # One transaction per pass: the logons and ends of sessions reaped and the starts
        # of the entries due; the ends are made durable by a group commit (`_sync`).
        steps = self._reaped()
        self._enforce_timeouts()
        due = self._due_soon()
        self._dispatch(due or self.now(), steps, start_at=due)
        self._sync(now=not self.running)  # nothing else to wait for: durable at once
        self._prune()
        self.alerts.collect()

    def _due_soon(self) -> datetime | None:
        """The due instant of the next entry when it is less than PRECISE away. epoll
        wakes on millisecond boundaries (rounded up) and a long wait can end late, so the
        runner wakes a little early, plans the starts for that instant, sleeps exactly
        until it and then commits and starts them: a due entry starts on time."""
        if len(self.running) >= self.cfg.workers:
            return None
        due = self._next_due()
        if due is None:
            return None
        left = (due - self.now()).total_seconds()
        return due if 0 < left < PRECISE else None

    def _idle(self) -> bool:
        # Every enqueue waits at least ENQUEUE_MARGIN (BC), so "due within the horizon"
        # allows for it: a new entry or a quick retry still runs in --until-idle.
        if self.running or self._retry_at is not None:
            return False
        due = self._next_due()
        return due is None or due > self.now() + self.horizon + recurrence.ENQUEUE_MARGIN

    def _next_due(self) -> datetime | None:
        if control.runner_paused(self._paused):
            return None  # nothing starts: nothing is due
        return self.store.next_task_due()

    def _prepare_next(self) -> None:
        """Let the executor get ready for the next due entry's job before it is due."""
        if not self.cfg.session_preload:
            return
        upcoming = self.store.due_tasks(FAR_FUTURE, 1)
        if not upcoming or upcoming[0].id == self._prepared_task:
            return
        task = upcoming[0]
        if task.not_before is not None and task.not_before <= self.now():
            return  # already due: it waits for a free worker, not for its time
        self._prepared_task = task.id
        if task.object != lifecycle.DISPATCH:
            return
        entry = self.store.get_entry(task.entry_id or "")
        if entry is None:
            return
        try:
            ref = objects.resolve_ref(entry.spec.object_id, self.cfg.objects)
        except objects.UnresolvedObject:
            return
        if ref not in self._prepared_refs:
            self._prepared_refs.add(ref)
            self.executor.prepare(ref)

    def _sleep_for(self) -> float:
        waits: list[float] = []
        free = len(self.running) < self.cfg.workers and self._retry_at is None
        # with every worker busy, a session's end is what comes next (no read needed)
        due = self._next_due() if free else None
        if due is not None:
            # the kernel may end a wait late by 0.1% of its length (timer slack, up to
            # 100 ms): a long wait ends that much earlier and the next, short one is exact
            left = (due - self.now()).total_seconds() - PRECISE / 2
            waits.append(left - min(max(left, 0.0) * 0.002, 0.25))
        mono = time.monotonic()
        for run in self.running.values():
            waits.extend(d - mono for d in (run.deadline, run.kill_at) if d is not None)
        if self.notifier.watchdog is not None:
            waits.append(self.notifier.watchdog.total_seconds())
        if self.until_idle and not self.running and due is not None:
            waits.append((due - self.now()).total_seconds())
        if self._retry_at is not None:
            waits.append(self._retry_at - mono)
        if (
            self._unsynced
            and self._retry_at is None
            and not (self._syncer and self._syncer.busy)  # (its end wakes us)
        ):
            waits.append(GROUP_WINDOW - (time.monotonic() - self._unsynced_since))
        # the next pruning pass (at most a day away: epoll cannot wait longer than ~24.8 days);
        # none while the store cannot be written (the retry above comes first)
        if self._retry_at is None:
            waits.append(self.pruner.wait(self.now()))
        waits.append(pruning.MAX_GAP.total_seconds())
        wait = max(0.0, min(waits))
        if wait > PRECISE:  # time to spare: get ready for what is due next
            self._prepare_next()
        return wait

    def _wait(self, timeout: float | None) -> None:
        if self._selector is None:
            self._selector = selectors.DefaultSelector()
            self._selector.register(self._wake_r, selectors.EVENT_READ)
            self._selector.register(self.wake_socket, selectors.EVENT_READ)
            self._selector.register(self.task_socket, selectors.EVENT_READ)
        fds = set(self.executor.fds())
        for fd in self._watched - fds:
            self._selector.unregister(fd)
        for fd in fds - self._watched:
            self._selector.register(fd, selectors.EVENT_READ)
        self._watched = fds
        self._selector.select(timeout)
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_r, 4096):
                pass
        if wake.drain(self.wake_socket):
            self._asked = True
        taskgate.serve(self.task_socket, self._task_request)
        if self.notifier.watchdog is not None:
            self.notifier.send("WATCHDOG=1", self._status())

    def _task_request(self, uid: int, request: dict[str, Any]) -> dict[str, Any]:
        """A task asked for through the task socket by the account of `uid`."""
        answer = tasks.serve_request(self.cfg, self.store, uid, request, self.now())
        self.log.info("task_requested", uid=uid, **answer)
        return answer

    def _status(self) -> str:
        if self._retry_at is not None:
            left = max(0.0, self._retry_at - time.monotonic())
            return (
                f"STATUS={len(self.running)} running, starting nothing: the state store "
                f"cannot be written ({self._store_error}); next try in {left:.1f} s"
            )
        paused = control.runner_paused(self._paused)
        if paused is not None:
            return f"STATUS={len(self.running)} running, paused by {paused.by}: starting nothing"
        categories = ", ".join(sorted(control.paused_categories(self._paused)))
        held = f", paused: {categories}" if categories else ""
        return f"STATUS={len(self.running)} running, next due {self._next_due() or '-'}{held}"

    # --- operators' requests (trigger, cancel, pause) ------------------------------------

    def _requests(self) -> None:
        """What a command asked through the store: runs to end, pauses."""
        self._asked = False
        self._read_pauses()
        for entry in self.store.list_entries(status=S.IN_PROCESS):
            run = self.running.get(entry.session_id or "")
            if entry.cancel and run is not None and not run.cancel_by and run.task is None:
                run.cancel_by, run.entry = entry.cancel, entry
        self._enforce_timeouts()  # (signals the sessions to end at once)
        self.notifier.send(self._status())

    def _read_pauses(self) -> None:
        before = {p.category: p for p in self._paused}
        self._paused = self.store.pauses()
        now = {p.category: p for p in self._paused}
        for category in before.keys() - now.keys():
            if category is None:
                self.log.info("runner_resumed")
            else:
                self.log.info("category_resumed", category=category)
        for category in now.keys() - before.keys():
            p = now[category]
            since = wallclock.iso(p.at)
            if category is None:
                self.log.info("runner_paused", by=p.by, since=since)
            else:
                self.log.info("category_paused", category=category, by=p.by, since=since)

    def _reload(self) -> None:
        self.reload = False
        try:
            fresh = config.load(self.cfg.path)
        except errors.ConfigError as exc:
            self.log.warning("config_rejected", problems=[p.format() for p in exc.problems])
            return
        refusal = _jobs_dir_refusal(self.cfg, fresh)
        if refusal is not None:  # a full reconcile of a missing folder would remove all
            self.log.warning("config_rejected", problems=[refusal])
            return
        self.cfg = dataclasses.replace(fresh, state_dir=self.cfg.state_dir)
        self.settings = scheduler.Settings(
            retry_profile=self.cfg.retry_profile, on_final_failure=self.cfg.on_final_failure
        )
        self.reconciler.cfg = self.cfg
        self.pruner.reconfigure(self.cfg)
        self.alerts.reconfigure(self._alert_settings())
        self.reconciler.full()
        self.log.info("config_reloaded", path=str(self.cfg.path))

    # --- committing -------------------------------------------------------------------------

    def _commit(self, reason: str, steps: list[Step]) -> None:
        """Commit the steps of one loop pass in one transaction without waiting for the
        disk. What the starts and logons do follows at once (their sessions begin); the
        ends and decisions are made durable by a group commit (see `_sync`) before what
        they do is carried out. A conflict (another process changed a row in between)
        commits them one by one, each planned again from fresh reads. While the store
        cannot be written they are held (see `_hold`)."""
        if self._retry_at is not None:
            self._hold(steps)
            return
        try:
            self._commit_group(reason, steps)
        except _NotCommitted as failed:
            self._store_failed(failed.error)
            self._hold(failed.steps)
            return
        self._wrote = self._wrote or bool(steps)
        self._sync()

    def _commit_group(self, reason: str, steps: list[Step]) -> None:
        """Raises _NotCommitted with the steps not committed when the store cannot be
        written (those before them are committed and carried out)."""
        if not steps:
            return
        self.store.check_alive()  # never a run into a file nobody else sees
        try:
            numbers = self.store.commit(
                model.merge(reason, [s.transition for s in steps]), durable=False
            )
        except StoreConflict:
            for at, step in enumerate(steps):
                try:
                    self._commit_alone(step)
                except StoreUnwritable as exc:
                    raise _NotCommitted(steps[at:], exc) from None
            return
        except StoreUnwritable as exc:
            raise _NotCommitted(steps, exc) from None
        at = 0
        for step in steps:
            count = len(step.transition.log_insert)
            self._committed(step, numbers[at : at + count])
            at += count

    def _committed(self, step: Step, numbers: list[int]) -> None:
        if not step.durable:
            step.then(numbers)
            return
        if not self._unsynced:
            self._unsynced_since = time.monotonic()
        self._unsynced.append((step, numbers))

    def _sync(self, *, now: bool = False) -> None:
        """Group commit: make the durable steps committed so far durable with one fsync
        once GROUP_MAX of them wait or the oldest has waited GROUP_WINDOW, then carry out
        what each does (a run counts as done only then). The fsync runs in the syncer's
        thread while this loop goes on (it is woken when the fsync is over); with `now`
        (nothing else to do) it waits for that one and for one of the rest."""
        assert self._syncer is not None
        if self._syncer.busy and (now or self._syncer.done()):
            self._collect()
        if not self._unsynced or self._retry_at is not None:
            return
        if now:  # through the thread all the same: a checkpoint due follows it there
            self._syncer.start(self._unsynced)
            self._unsynced = []
            self._collect()
        elif not self._syncer.busy and (
            len(self._unsynced) >= GROUP_MAX
            or time.monotonic() - self._unsynced_since >= GROUP_WINDOW
        ):
            self._syncer.start(self._unsynced)
            self._unsynced = []

    def _collect(self) -> None:
        assert self._syncer is not None
        try:
            synced = self._syncer.collect()
        except SyncFailed as failed:
            self._held_synced += failed.batch
            cause = failed.__cause__
            self._store_failed(cause if isinstance(cause, Exception) else failed)
            return
        self._carry_out(synced)

    @staticmethod
    def _carry_out(synced: list[tuple[Step, list[int]]]) -> None:
        for step, numbers in synced:
            step.then(numbers)

    # --- a store that cannot be written (disk full, read-only) ------------------------------

    def _store_failed(self, exc: Exception) -> None:
        """Start nothing and try again after a delay (doubling up to RETRY_MAX)."""
        first = self._retry_at is None
        self._store_error = str(exc)
        if first and self._wrote:
            self._retry_delay = RETRY_FIRST
        else:  # (also when it failed again before anything more could be written)
            self._retry_delay = min(self._retry_delay * 2, RETRY_MAX)
        self._retry_at = time.monotonic() + self._retry_delay
        held = len(self._held) + len(self._held_synced)
        self.log.error(
            "store_unwritable", error=self._store_error, retry_s=self._retry_delay, held=held
        )
        if first:
            print(f"jobrunner: the state store cannot be written: {exc}", file=sys.stderr)
        self.notifier.send(self._status())

    def _hold(self, steps: list[Step]) -> None:
        """Keep what cannot be committed now for the next try: the ends and logons of
        sessions (their outcome is nowhere else); starts and dispatch decisions are
        dropped, planned again from the store once it can be written."""
        self._held += [s for s in steps if not s.replanned]

    def _retry_store(self) -> None:
        """Sync and commit what is held; on success carry on as before."""
        try:
            if self._held_synced:
                self.store.sync()
            if not self._held and not self._held_synced:
                self.store.probe()  # nothing to write: whether something could be
        except StoreUnwritable as exc:
            self._store_failed(exc)
            return
        synced, self._held_synced = self._held_synced, []
        self._carry_out(synced)
        held, self._held = self._held, []
        try:
            self._commit_group("retry", held)
        except _NotCommitted as failed:
            self._held = failed.steps
            self._store_failed(failed.error)
            return
        self._retry_at, self._wrote = None, bool(held)
        self.log.info("store_writable", after_s=round(self._retry_delay, 3), committed=len(held))
        print("jobrunner: the state store can be written again", file=sys.stderr)
        self._sync(now=True)
        self.notifier.send(self._status())

    def _store_lost(self, exc: StoreLost) -> int:
        self.log.error("store_lost", error=str(exc), path=self.store.where)
        print(f"jobrunner: {exc}; stopped", file=sys.stderr)
        self.notifier.send(f"STATUS=stopped: {exc}")
        return EXIT_STORE_LOST

    def _commit_alone(self, step: Step) -> None:
        try:
            numbers = self.store.commit(step.transition, durable=False)
        except StoreConflict:
            if step.redo is None:
                return  # planned on stale reads; the next pass reads afresh
            step = step.redo()
            numbers = self.store.commit(step.transition, durable=False)
        self._committed(step, numbers)

    # --- dispatch -------------------------------------------------------------------------

    def _busy(self) -> set[str]:
        return {r.category for r in self.running.values() if r.category}

    def _dispatch(
        self, now: datetime, steps: list[Step] | None = None, *, start_at: datetime | None = None
    ) -> None:
        """One loop over due tasks (the Task Scheduler). An entry's task runs the job
        queue dispatcher for it; any other task runs its own object. The starts of one
        pass are committed together (with `steps`), then their sessions are asked for;
        with `start_at` (= now, a moment ahead) not before that instant."""
        steps = list(steps or ())
        while True:
            starts = self._plan_starts(now)
            if start_at is not None:
                time.sleep(max(0.0, (start_at - self.now()).total_seconds()))
                start_at = None
            steps += starts
            if not steps:
                return
            self._commit("pass", steps)
            if not starts or self._retry_at is not None:
                return
            steps = []

    def _plan_starts(self, now: datetime) -> list[Step]:
        free = self.cfg.workers - len(self.running)
        if self.stopping or free <= 0 or self._retry_at is not None:
            return []
        if control.runner_paused(self._paused):
            return []
        busy = self._busy() | control.paused_categories(self._paused)  # their runs wait
        steps = []
        for task in self.store.due_tasks(now, free):
            if task.object == lifecycle.DISPATCH:
                step = self._plan_entry(task, now, busy)
            else:
                step = self._plan_task(task, now)
            if step is not None:
                steps.append(step)
        return steps

    def _plan_entry(self, task: model.Task, now: datetime, busy: set[str]) -> Step | None:
        entry = self.store.get_entry(task.entry_id or "")
        if entry is None or entry.system_task_id != task.id:
            return None
        decision = scheduler.dispatch(entry, now, busy)
        if decision.kind == "start":
            if entry.spec.category:
                busy.add(entry.spec.category)
            return self._plan_start(entry, now)
        if decision.kind == "skip":
            return None

        def then(_: list[int]) -> None:
            self.log.info(decision.event, **dims(decision.entry), **decision.fields)

        return Step(
            model.Transition(reason=decision.kind, put=(decision.entry,)), then, replanned=True
        )

    def _plan_start(self, entry: model.Entry, now: datetime) -> Step:
        session_id = uuid.uuid4().hex
        user = entry.spec.user or self.user
        running, log = scheduler.started(
            entry, session_id=session_id, runner_id=self.runner_id, now=now, user=user
        )

        run = self._run(session_id, entry.id, user, category=entry.spec.category)
        request = self._request(entry, run)
        announce = dims(running)

        def then(numbers: list[int]) -> None:
            run.log_no = numbers[0]
            run.log = dataclasses.replace(log, entry_no=numbers[0])
            run.entry = dataclasses.replace(running, version=running.version + 1)
            if entry.trigger is not None and _first_triggered(entry, entry.trigger):
                asked = wallclock.iso(entry.trigger.at)
                self.log.info("run_triggered", **announce, by=entry.trigger.by, asked_at=asked)
            self._launch(run, request, entry.spec.timeout, announce)

        # no fsync of its own: made durable by the next durable commit, the run's end at the
        # latest (a runner crash cannot lose it; see the README's state store section)
        return Step(
            model.Transition(reason="run_started", put=(running,), log_insert=(log,)),
            then,
            durable=False,
            replanned=True,
        )

    def _run(
        self,
        session_id: str,
        entry_id: str,
        user: str,
        *,
        log_no: int = 0,
        category: str | None = None,
        task: model.Task | None = None,
    ) -> Running:
        return Running(
            entry_id=entry_id,
            session_id=session_id,
            pid=0,
            log_no=log_no,
            user=user,
            category=category,
            deadline=None,
            task=task,
            result_path=self._session_file(session_id, "result"),
            output_path=self._session_file(session_id, "out"),
        )

    def _session_file(self, session_id: str, kind: str) -> Path:
        """Where a session writes its `out`put or its `result`."""
        return self.sessions_dir / f"{session_id}.{kind}"

    def _request(self, entry: model.Entry, run: Running) -> dict[str, Any]:
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
        return {
            "session_id": run.session_id,
            "entry": record,
            "parameter": spec.parameter_string,
            "attempt": entry.attempts + 1,
            "user": spec.user if spec.user and spec.user != self.user else None,
            "keep": self.cfg.session_environment,
            "environment": spec.environment,
            "result_path": str(run.result_path),
            "output_path": str(run.output_path),
            "ref": self._ref(spec.object_id, run.user),
            "pool": (spec.session_mode or self.cfg.session_mode) == "pool",
        }

    def _ref(self, object_id: int | str, user: str) -> str:
        try:
            ref = objects.resolve_ref(object_id, self.cfg.objects)
        except objects.UnresolvedObject as exc:
            return f"{_REFUSED}{exc}"
        refusal = permissions.run_refusal(self.cfg.users, user, object_id, ref)
        return f"{_REFUSED}{refusal}" if refusal else ref

    def _launch(
        self,
        run: Running,
        request: dict[str, Any],
        timeout: timedelta | None,
        announce: dict[str, Any] | None = None,
    ) -> None:
        """Ask for the session (its pid arrives later, see `_plan_events`); `announce` (an
        entry's dimensions) is logged as run_started once the request is on its way."""
        if request["ref"].startswith(_REFUSED):
            message = request["ref"][len(_REFUSED) :]
            self._end(run, model.Outcome(ok=False, message=message, cause="start"))
            return
        try:
            self.executor.start(request)
        except executor.SessionStartError as exc:
            self._end(run, model.Outcome(ok=False, message=str(exc), cause="start", retriable=True))
            return
        if announce is not None:
            self.log.info("run_started", **announce)
        if timeout is not None:
            run.timeout = timeout
            run.deadline = time.monotonic() + timeout.total_seconds()
        self.running[run.session_id] = run

    def _session_event(
        self, run: Running, event: str, now: datetime, comment: str = ""
    ) -> model.SessionEvent:
        return model.SessionEvent(
            session_id=run.session_id,
            event=event,
            at=now,
            user=run.user,
            runner_id=self.runner_id,
            entry_id=run.entry_id,
            pid=run.pid or None,
            comment=comment,
        )

    def _plan_logon(
        self, run: Running, now: datetime, *, fresh: bool = False, mark: bool = True
    ) -> Step:
        """The session's logon event, and (`mark`) its pid on the entry (to find it after
        a crash)."""
        event = self._session_event(run, "logon", now)
        put: tuple[model.Entry, ...] = ()
        entry = self._entry_of(run, fresh) if mark else None
        if entry is not None:
            logged_on = dataclasses.replace(
                entry,
                session_pid=run.pid,
                updated_at=now,
                session_started=executor.process_start_ticks(run.pid),
            )
            put = (logged_on,)
            run.entry = dataclasses.replace(logged_on, version=logged_on.version + 1)

        def then(_: list[int]) -> None:
            self.log.info(
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
            redo=lambda: self._plan_logon(run, now, fresh=True, mark=mark),
            durable=False,
        )

    # --- the start and end of a session ---------------------------------------------------------

    def _log_of(self, run: Running, fresh: bool) -> model.LogEntry:
        """The log entry of a run in process: as this runner inserted it, or read."""
        log = run.log if run.log is not None and not fresh else self.store.get_log(run.log_no)
        assert log is not None
        return log

    def _entry_of(self, run: Running, fresh: bool) -> model.Entry | None:
        """The entry of a run in process: as this runner last committed it, or read."""
        if run.task is not None:
            return None
        entry = run.entry if run.entry is not None and not fresh else None
        if entry is None:
            entry = self.store.get_entry(run.entry_id)
        return entry if entry is not None and entry.session_id == run.session_id else None

    def _reap(self) -> None:
        self._commit("pass", self._reaped())

    def _reaped(self) -> list[Step]:
        """The logons of sessions that started and the ends of sessions that ended."""
        if not self.executor.alive():
            self._lost_executor()
            return []
        return self._plan_events(self.executor.collect())

    def _take(self, events: list[executor.Event], forced: model.Outcome | None = None) -> None:
        self._commit("pass", self._plan_events(events, forced))

    def _plan_events(
        self, events: list[executor.Event], forced: model.Outcome | None = None
    ) -> list[Step]:
        """Steps for sessions that started (their logons) and sessions that ended (their
        ends); `forced` is the outcome of every end. A session that started and ended
        within one pass gets its logon event but no pid on its entry (one write each)."""
        now = self.now()
        steps: list[Step] = []
        ending = {e.pid for e in events if isinstance(e, executor.Exited)}
        ended: list[tuple[Running, int]] = []
        for event in events:
            if isinstance(event, executor.Started):
                run = self.running.get(event.session_id)
                if run is not None:
                    run.pid = event.pid
                    self._pids[event.pid] = run.session_id
                    steps.append(self._plan_logon(run, now, mark=event.pid not in ending))
            else:
                ended_run = self.running.pop(self._pids.pop(event.pid, ""), None)
                if ended_run is not None:
                    ended.append((ended_run, event.status))
        for run, status in ended:
            result = self._forced(run, forced) if forced else self._outcome(run, status)
            steps.append(self._plan_end(run, result, status))
        return steps

    def _forced(self, run: Running, result: model.Outcome) -> model.Outcome:
        """`result` (the runner ended the run), with what the session wrote so far."""
        return dataclasses.replace(result, output=self._output(run.output_path))

    def _output(self, path: Path) -> str:
        return executor.read_output(path, self.cfg.output_limit)

    def _outcome(self, run: Running, status: int) -> model.Outcome:
        output = self._output(run.output_path)
        if run.cancel_by:
            return control.cancelled(run.cancel_by, output)
        return executor.outcome(
            run.result_path,
            output,
            status,
            timed_out=run.timed_out,
            retriable=self.cfg.retriable_exceptions,
        )

    def _lost_executor(self) -> None:
        """The fork server died, and its sessions with it (parent-death signal): their
        runs count as interrupted, and a new fork server takes over."""
        self._take(self.executor.collect())
        self.log.warning("executor_lost", sessions=len(self.running))
        for run in list(self.running.values()):
            if run.pid:
                self.executor.kill(run.pid, signal.SIGKILL)
        self._end_all(scheduler.INTERRUPTED)
        if self._selector is not None:  # its fds close with it
            for fd in self._watched:
                self._selector.unregister(fd)
        self._watched = set()
        self.executor.close()
        self.executor = self._executor()
        self._prepared_task, self._prepared_refs = None, set()

    def _executor(self) -> executor.Executor:
        return executor.make(
            self.cfg.session_mode,
            preload=self.cfg.session_preload,
            pool=4,
            max_runs=self.cfg.max_runs_per_process,
            pool_size=self.cfg.workers + 2,
        )

    def _end_all(self, result: model.Outcome) -> None:
        runs = list(self.running.values())
        self.running.clear()
        self._pids.clear()
        self._commit(
            "run_finished", [self._plan_end(run, self._forced(run, result)) for run in runs]
        )

    def _end(self, run: Running, result: model.Outcome, status: int | None = None) -> None:
        self._commit("run_finished", [self._plan_end(run, result, status)])

    def _plan_end(self, run: Running, result: model.Outcome, status: int | None = None) -> Step:
        if run.task is not None:
            return self._plan_end_task(run, result)
        return self._plan_finish(run, result, status)

    def _plan_finish(
        self, run: Running, result: model.Outcome, status: int | None, *, fresh: bool = False
    ) -> Step:
        now = self.now()
        stored = self._entry_of(run, fresh)
        log = self._log_of(run, fresh)
        finish = scheduler.finished(stored, log, result, now, self.settings)
        puts: list[model.Entry] = []
        deletes: tuple[tuple[str, int], ...] = ()
        if finish.entry is not None and stored is not None:
            if finish.delete:
                deletes = ((stored.id, stored.version),)
            else:
                puts.append(finish.entry)
        activated, expired = self._activation(finish.activate, now)
        puts += expired + ([activated] if activated else [])
        logoff = self._session_event(run, "logoff", now, _exit_comment(result, status))
        transition = model.Transition(
            reason="run_finished",
            put=tuple(puts),
            delete=deletes,
            log_update=(finish.log,),
            events=(logoff,),
            task_put=self._handler_task(finish, stored, result, now),
        )

        def then(_: list[int]) -> None:
            _forget(run)
            self._log_finish(run, finish, activated, logoff)
            self.pruner.ended(run.entry_id)
            self.alerts.run_ended(finish.entry or stored, finish.log, finish.last_attempt)

        return Step(
            transition, then, redo=lambda: self._plan_finish(run, result, status, fresh=True)
        )

    def _log_finish(
        self,
        run: Running,
        finish: scheduler.Finish,
        activated: model.Entry | None,
        logoff: model.SessionEvent,
    ) -> None:
        self.log.info(
            "session_logoff",
            session_id=run.session_id,
            entry_id=run.entry_id,
            pid=run.pid or None,
            comment=logoff.comment,
            client_type="background",
        )
        base = dims(finish.entry) if finish.entry else {"entry_id": run.entry_id}
        for name, fields in finish.events:
            getattr(self.log, telemetry.level(name))(
                name, **{**base, "session_id": run.session_id, **fields}
            )
        if finish.delete:
            self.log.info("entry_removed", entry_id=run.entry_id, after_run=True)
        if activated is not None:
            self.log.info("waiting_activated", **dims(activated))

    def _activation(
        self, category: str | None, now: datetime
    ) -> tuple[model.Entry | None, list[model.Entry]]:
        if not category or category in self._busy():
            return None, []
        if category in control.paused_categories(self._paused):
            return None, []  # its entries wait until it is resumed
        return scheduler.activation(self.store.waiting_entries(category), now)

    def _enforce_timeouts(self) -> None:
        mono = time.monotonic()
        for run in self.running.values():
            if not run.pid:
                continue  # asked for, not started yet
            if run.cancel_by and not run.cancel_sent:  # `jobrunner cancel`: as a timeout
                run.cancel_sent, run.deadline = True, None
                self.executor.kill(run.pid, signal.SIGTERM)
                run.kill_at = mono + self.cfg.kill_grace.total_seconds()
            elif run.kill_at is not None and mono >= run.kill_at:
                self.executor.kill(run.pid, signal.SIGKILL)
                run.kill_at = None
            elif run.deadline is not None and mono >= run.deadline and not run.timed_out:
                limit = spec.format_duration(run.timeout) if run.timeout else "?"
                run.timed_out = f"The job ran longer than its timeout of {limit} and was ended."
                self.executor.kill(run.pid, signal.SIGTERM)
                run.kill_at = mono + self.cfg.kill_grace.total_seconds()
                run.deadline = None

    # --- tasks (the platform layer): failure handlers ------------------------------------------

    def _handler_task(
        self,
        finish: scheduler.Finish,
        stored: model.Entry | None,
        result: model.Outcome,
        now: datetime,
    ) -> tuple[model.Task, ...]:
        if not finish.handler or stored is None or stored.spec.failure_handler is None:
            return ()
        error = {
            "entry_id": stored.id,
            "message": finish.log.error_message,
            "stack": result.stack,
            "attempt": finish.log.attempt,
            "last_attempt": finish.last_attempt,
        }
        return (
            model.Task(
                id=str(uuid.uuid4()),
                object=str(stored.spec.failure_handler),
                entry_id=stored.id,
                not_before=now,
                parameter=json.dumps(error),
                user=stored.spec.user or "",
                created_at=now,
                phase="failure",
            ),
        )

    def _task_environment(self, task: model.Task) -> dict[str, str]:
        """The environment of a failure handler's session: its entry's, as defined now.
        Only for a session of the entry's own account: a task anyone may create names
        its entry, and must not read the variables of another account's entry."""
        if task.phase != "failure" or not task.entry_id:
            return {}
        entry = self.store.get_entry(task.entry_id)
        if entry is None or (entry.spec.user or "") != task.user:
            return {}
        return entry.spec.environment

    def _plan_task(self, task: model.Task, now: datetime) -> Step:
        session_id = uuid.uuid4().hex
        user = task.user or self.user
        claimed = dataclasses.replace(task, session_id=session_id)
        log = model.LogEntry(
            entry_id=task.entry_id or f"task:{task.id}",
            start_at=now,
            user=user,
            object_id=task.object,
            session_id=session_id,
            description=f"task {task.object} ({task.phase})",
            parameter_string=task.parameter[:250],
            attempt=task.attempts + 1,
            system_task_id=task.id,
        )

        def then(numbers: list[int]) -> None:
            run = self._run(
                session_id,
                task.entry_id or "",
                user,
                log_no=numbers[0],
                task=dataclasses.replace(claimed, version=claimed.version + 1),
            )
            run.log = dataclasses.replace(log, entry_no=numbers[0])
            obj: int | str = int(task.object) if task.object.isdigit() else task.object
            error = json.loads(task.parameter) if task.phase == "failure" else None
            request = {
                "session_id": session_id,
                "entry": {"id": task.entry_id, "task_id": task.id},
                "parameter": task.parameter,
                "attempt": task.attempts + 1,
                "error": error,
                "user": task.user if task.user and task.user != self.user else None,
                "keep": self.cfg.session_environment,
                "environment": self._task_environment(task),
                "result_path": str(run.result_path),
                "output_path": str(run.output_path),
                "ref": self._ref(obj, user),
                "pool": self.cfg.session_mode == "pool",
            }
            self.log.info(
                "task_started",
                task_id=task.id,
                object=task.object,
                phase=task.phase,
                entry_id=task.entry_id,
                session_id=session_id,
            )
            self._launch(run, request, task.timeout)

        return Step(
            model.Transition(reason="task_started", task_put=(claimed,), log_insert=(log,)),
            then,
            durable=False,
            replanned=True,
        )

    def _plan_end_task(self, run: Running, result: model.Outcome) -> Step:
        task = run.task
        assert task is not None
        now = self.now()
        log = self._log_of(run, fresh=False)
        closed = scheduler.close_log(log, now, result)
        after, event = scheduler.task_ended(task, result, now, self.cfg.retry_profile)
        fields = {
            "task_id": task.id,
            "object": task.object,
            "phase": task.phase,
            "entry_id": task.entry_id,
            "session_id": run.session_id,
        }
        if not result.ok:
            fields["error"] = closed.error_message

        def then(_: list[int]) -> None:
            _forget(run)
            getattr(self.log, "info" if result.ok else "warning")(event, **fields)

        transition = model.Transition(
            reason=event,
            log_update=(closed,),
            task_put=(after,) if after else (),
            task_delete=() if after else ((task.id, task.version),),
            events=(self._session_event(run, "logoff", now, _exit_comment(result, None)),),
        )
        return Step(transition, then)

    # --- crash recovery, shutdown, housekeeping -------------------------------------------

    def _recover(self) -> None:
        """Close what the runner before left in process (it died during those runs). A
        run whose session left a whole result ends as that result says, exactly as if
        this runner had seen the session end; any other was killed while its job was
        working: its log entry becomes an error, with what its session wrote, and its
        entry (or task) takes the retriable-failure path, once. Every session left open
        gets its logoff. Then the sessions' files of the runner before go."""
        now = self.now()
        open_logs = self.store.list_log(status=model.LogStatus.IN_PROCESS)
        for entry in self.store.list_entries(status=S.IN_PROCESS):
            self._recover_entry(entry, open_logs, now)
        for task in self.store.list_tasks():
            if task.session_id is not None and task.object != lifecycle.DISPATCH:
                self._recover_task(task, open_logs)
        self._sync(now=True)  # the ends above, durable before their files go
        for row in self.store.list_log(status=model.LogStatus.IN_PROCESS):
            owner = self.store.get_entry(row.entry_id)
            if owner is None or owner.status is not S.IN_PROCESS:
                closed = dataclasses.replace(
                    row, status=model.LogStatus.ERROR, end_at=now, error_message=scheduler.CRASHED
                )
                self.store.commit(model.Transition(reason="recovered", log_update=(closed,)))
        self._close_sessions(now)
        with os.scandir(self.sessions_dir) as leftovers:  # no session runs yet
            for leftover in leftovers:
                with contextlib.suppress(OSError):
                    os.unlink(leftover.path)

    def _recovered(
        self, session_id: str, log: model.LogEntry, *, pid: int = 0, task: model.Task | None = None
    ) -> tuple[Running, model.Outcome | None]:
        """A run of the runner before as this runner would hold it, and its outcome when
        its session left a whole result (None: it was killed while its job worked)."""
        run = self._run(session_id, log.entry_id, log.user, log_no=log.entry_no, task=task)
        run.pid, run.log = pid, log
        result = executor.read_result(run.result_path)
        if result is None:
            return run, None
        output = self._output(run.output_path)
        return run, executor.result_outcome(result, output, retriable=self.cfg.retriable_exceptions)

    def _recover_entry(
        self, entry: model.Entry, open_logs: list[model.LogEntry], now: datetime
    ) -> None:
        if entry.session_pid:
            _end_session(entry.session_pid, entry.session_started)
        logs = [row for row in open_logs if row.session_id == entry.session_id]
        if logs:
            run, outcome = self._recovered(
                entry.session_id or "", logs[0], pid=entry.session_pid or 0
            )
            if outcome is not None:
                run.category = entry.spec.category
                self._commit("recovered", [self._plan_finish(run, outcome, None)])
                return
        log = logs[0] if logs else model.LogEntry(entry_id=entry.id, start_at=now)
        output = self._output(self._session_file(entry.session_id or "", "out"))
        result = dataclasses.replace(scheduler.INTERRUPTED, output=output)
        finish = scheduler.finished(entry, log, result, now, self.settings)
        transition = model.Transition(
            reason="recovered",
            put=(finish.entry,) if finish.entry else (),
            log_update=(finish.log,) if logs else (),
            log_insert=() if logs else (finish.log,),
            events=(
                model.SessionEvent(
                    session_id=entry.session_id or "",
                    event="logoff",
                    at=now,
                    user=log.user,
                    runner_id=self.runner_id,
                    entry_id=entry.id,
                    pid=entry.session_pid,
                    comment=scheduler.CRASHED,
                ),
            ),
        )
        self.store.commit(transition)
        self.log.warning("run_recovered", **dims(finish.entry or entry), error=scheduler.CRASHED)

    def _recover_task(self, task: model.Task, open_logs: list[model.LogEntry]) -> None:
        logs = [row for row in open_logs if row.session_id == task.session_id]
        if logs:
            run, outcome = self._recovered(task.session_id or "", logs[0], task=task)
            if outcome is not None:
                self._commit("recovered", [self._plan_end_task(run, outcome)])
                return
        again = dataclasses.replace(task, session_id=None)  # interrupted: it runs again
        self.store.commit(model.Transition(reason="recovered", task_put=(again,)))

    def _close_sessions(self, now: datetime) -> None:
        """A logoff for each background session the runners before left without one."""
        events = self.store.list_sessions()
        closed = {e.session_id for e in events if e.event == "logoff"}
        logoffs = tuple(
            dataclasses.replace(
                e,
                event="logoff",
                at=now,
                runner_id=self.runner_id,
                comment=scheduler.CRASHED,
                seq=0,
            )
            for e in events
            if e.event == "logon"
            and e.session_id not in closed
            and e.client_type is model.ClientType.BACKGROUND
        )
        if logoffs:
            self.store.commit(model.Transition(reason="recovered", events=logoffs))

    def _drain(self) -> None:
        """SIGTERM: no more dispatching; running sessions get shutdown_grace, then end;
        their runs count as interrupted (retried on the platform profile)."""
        if not self.running:
            return
        self.log.info(
            "runner_draining",
            running=len(self.running),
            grace_s=self.cfg.shutdown_grace.total_seconds(),
        )
        deadline = time.monotonic() + self.cfg.shutdown_grace.total_seconds()
        while self.running and time.monotonic() < deadline:
            self._wait(max(0.0, deadline - time.monotonic()))
            self._reap()
        self._reap()  # the pids of sessions that started meanwhile
        for run in list(self.running.values()):
            if run.pid:
                self.executor.kill(run.pid, signal.SIGKILL)
        deadline = time.monotonic() + KILL_WAIT
        while self.running and time.monotonic() < deadline and self.executor.alive():
            self._wait(0.2)
            self._take(self.executor.collect(), forced=scheduler.INTERRUPTED)
        self._end_all(scheduler.INTERRUPTED)  # gone without a word: interrupted too

    def _prune(self) -> None:
        try:
            self.pruner.tick(self.now())
        except StoreUnwritable as exc:
            self._store_failed(exc)


class _NotCommitted(Exception):
    """The store could not be written: `steps` are not committed."""

    def __init__(self, steps: list[Step], error: StoreUnwritable) -> None:
        super().__init__(str(error))
        self.steps, self.error = steps, error


def dims(entry: model.Entry) -> dict[str, Any]:
    """The standard dimensions of an entry's events (BC's SetJobQueueTelemetryDimensions)."""
    spec = entry.spec
    return {
        "entry_id": spec.id,
        "object_type": spec.object_type,
        "object_id": str(spec.object_id),  # one JSON type for codeunits and refs
        "status": entry.status.value,
        "recurring": spec.recurring,
        "earliest_start": wallclock.iso(entry.earliest_start),
        "attempts": entry.attempts,
        "max_retries": spec.max_retries,
        "category": spec.category,
        "session_id": entry.session_id,
        "system_task_id": entry.system_task_id,
    }


def _jobs_dir_refusal(running: config.Config, fresh: config.Config) -> str | None:
    """Why a reloaded config may not take over from the running one, as to its jobs
    folder: a folder that is not there would read as every job file deleted, and the
    watcher watches the running one's."""
    where = f"{fresh.path or 'the config'}: jobs_dir"
    if not fresh.jobs_dir.is_dir():
        return f"{where}: the jobs folder {fresh.jobs_dir} does not exist"
    if fresh.jobs_dir != running.jobs_dir:
        return f"{where}: {fresh.jobs_dir} is not the running {running.jobs_dir}; restart"
    return None


def _first_triggered(entry: model.Entry, t: model.Trigger) -> bool:
    """Whether the run about to start is the one `jobrunner trigger` asked for (not a
    retry of it: a run started since)."""
    return entry.last_run_at is None or entry.last_run_at < t.at


def _forget(run: Running) -> None:
    """The session's files, once its end is committed (a crash before keeps its result)."""
    for path in (run.result_path, run.output_path):
        with contextlib.suppress(OSError):  # (a read-only state folder: left to a start)
            path.unlink(missing_ok=True)


def _end_session(pid: int, started: float | None) -> None:
    """SIGKILL a session of the runner before that is still there (its pid and start
    time match) and see it go (within KILL_WAIT), so its result file is final; one
    whose job has returned first gets FINISH_WAIT to write its result and go."""
    finish_by = time.monotonic() + FINISH_WAIT
    while (
        executor.running(pid, started) and session.finishing(pid) and time.monotonic() < finish_by
    ):
        time.sleep(0.005)
    deadline = time.monotonic() + KILL_WAIT
    while executor.running(pid, started) and time.monotonic() < deadline:
        executor.kill_group(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def _exit_comment(result: model.Outcome, status: int | None) -> str:
    if result.ok:
        return "success"
    cause = result.cause or "error"
    if status is not None and os.WIFSIGNALED(status):
        return f"{cause}: signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"{cause}: {scheduler.first_line(result.message)}"[:250]


def _release_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(None).malloc_trim(0)
    gc.freeze()  # what is left lives as long as the runner: no collection walks it again
