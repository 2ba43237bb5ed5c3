"""The runner's loop, the only reader of the clock: `tick()` is one pass (reconcile,
collect the sessions' logons and ends, enforce timeouts, dispatch, group commit, prune,
alerts); `serve()` runs passes and sleeps between them until a signal stops it, then
drains. It receives its store, executor, clock and wakeup (see `runner.build`)."""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner import (
    config,
    delivery,
    executor,
    model,
    notify,
    permissions,
    pruning,
    reconciler,
    scheduler,
    tasks,
    telemetry,
)
from jobrunner.clock import Clock
from jobrunner.runner import holding, housekeeping, timing
from jobrunner.runner.commits import GroupCommit, Step
from jobrunner.runner.dispatch import Dispatcher
from jobrunner.runner.endings import Endings
from jobrunner.runner.peers import Peers
from jobrunner.runner.recovery import Recovery
from jobrunner.runner.sessions import SessionTable
from jobrunner.runner.shared import Shared
from jobrunner.runner.wakeup import Wakeup
from jobrunner.store import SharedStore, Store, StoreLost, StoreUnwritable

KILL_WAIT = 5.0  # seconds to see killed sessions go before closing their runs anyway
EXIT_STORE_LOST = 3  # the exit status when the state file was deleted or replaced


class Runner:
    def __init__(
        self,
        cfg: config.Config,
        *,
        store: Store,
        executors: Callable[[], executor.Executor],
        clock: Clock,
        wakeup: Wakeup,
        until_idle: bool = False,
        horizon: timedelta = timedelta(0),
    ) -> None:
        self.until_idle, self.horizon = until_idle, horizon
        self.clock, self.wakeup, self.executors = clock, wakeup, executors
        self.runner_id = uuid.uuid4().hex
        self.log = telemetry.get_logger(runner_id=self.runner_id)
        self.store = store
        self.notifier = notify.Notifier()
        self.pruner = pruning.Pruner(store, cfg, self.log)
        self.shared = Shared(
            cfg=cfg,
            store=store,
            log=self.log,
            runner_id=self.runner_id,
            user=permissions.current_user(),
            run_ended=self._run_ended,
        )
        self.alerts = delivery.Alerts(
            housekeeping.alert_settings(cfg),
            store,
            self.wake,
            self.log,
            outputs=self.shared.outputs,
        )
        self.shared.item_failed_finally = self.alerts.item_failed_finally
        self.sessions = SessionTable(executors())
        self.commits = GroupCommit(store, self.log, self.wake, self._announce)
        self.dispatcher = Dispatcher(self.shared, self.sessions)
        self.endings = Endings(self.shared, self.sessions)
        self.reconciler = reconciler.Reconciler(cfg, store, clock.now, self.log)
        self.shared.holds = self.reconciler.holds
        self.timing, self.housekeeping = self._timekeepers(until_idle, horizon)
        self.stopping = False
        self.reload = False
        self._asked = False  # a command woke the runner: read its requests
        self._files: set[Path] = set()
        self.peers: Peers | None = None  # with a store shared by other runners

    def _timekeepers(
        self, until_idle: bool, horizon: timedelta
    ) -> tuple[timing.Timing, housekeeping.Housekeeping]:
        clock = timing.Timing(
            self.shared,
            self.sessions,
            self.commits,
            self.pruner,
            self.notifier,
            until_idle=until_idle,
            horizon=horizon,
        )
        keeper = housekeeping.Housekeeping(
            self.shared,
            self.sessions,
            self.commits,
            clock,
            reconciler=self.reconciler,
            pruner=self.pruner,
            alerts=self.alerts,
            notifier=self.notifier,
        )
        return clock, keeper

    @property
    def cfg(self) -> config.Config:
        return self.shared.cfg

    def wake(self) -> None:
        self.wakeup.wake()

    # --- life cycle -------------------------------------------------------------------------

    def serve(self) -> int:
        """Recover, reconcile, then loop until stopped (or idle with `until_idle`)."""
        try:
            return self._serve()
        except StoreLost as exc:
            return self._store_lost(exc)

    def close(self) -> None:
        if self.peers is not None:
            self.peers.leave()
        self.commits.close()
        self.reconciler.stop()
        self.sessions.executor.close()
        self.sessions.close()
        self.wakeup.close()
        self.store.close()

    def _serve(self) -> int:
        self._signals()
        recovery = Recovery(self.shared, self.endings, self.commits)
        if isinstance(self.store, SharedStore):
            self.peers = Peers(self.shared, self.store, recovery, self.clock)
            self.peers.join(self.wake)
            self.peers.on_sweep = self._on_sweep
            self.shared.busy_elsewhere = self.peers.busy
            self.shared.may_start = self.peers.may_start
            self.peers.recover_at_start(self.clock.now(), self.clock.monotonic())
        else:
            recovery.recover(self.clock.now(), self.clock.monotonic())
        self.housekeeping.read_pauses()
        self.reconciler.full()
        if not self.until_idle:
            self.reconciler.watch(self._on_files)
            self.reconciler.prepare()
        # the start's log pruning pass (over every entry's history limits) before READY,
        # as the validator: in the first pass after it, the first edit waited for it
        self.housekeeping.prune(self.clock.now(), self.clock.monotonic())
        housekeeping.release_memory()  # the garbage of both (the reconcile's, the pass's)
        self.log.info(
            "runner_started",
            pid=os.getpid(),
            mode=self.cfg.session_mode,
            workers=self.cfg.workers,
            jobs_dir=str(self.cfg.jobs_dir),
            revision=self.reconciler.revision,
        )
        self.notifier.send("READY=1", self.status())
        while not self.stopping:
            try:
                with telemetry.held():  # a pass's events go out together
                    self.tick()
                if self.until_idle and self.timing.idle(self.clock.now()):
                    break
                wait = self._sleep_for()
            except StoreUnwritable as exc:  # a read failed (a shared store out of reach)
                self.commits.store_failed(exc, self.clock.monotonic())
                wait = self._sleep_for()
            self.wait(wait)
        return self._stop()

    def _sleep_for(self) -> float:
        mono = self.clock.monotonic()
        wait = self.timing.sleep_for(self.clock.now(), mono)
        if self.peers is not None:  # the next look for runners that died
            wait = min(wait, self.peers.sweep_in(mono))
        return wait

    def _stop(self) -> int:
        self.drain()
        self.alerts.close()
        if self.commits.unwritable:
            self.commits.retry(self.clock.monotonic())
        self.commits.flush(self.clock.monotonic(), wait=True)
        if self.commits.unwritable:
            self.log.error(
                "store_unwritable",
                error=self.commits.error,
                lost=len(self.commits.held),
                stopping=True,
            )
        self.notifier.send("STOPPING=1")
        self.log.info("runner_stopped")
        return 0

    def _signals(self) -> None:
        self.wakeup.on_signals()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_stop)
        signal.signal(signal.SIGHUP, self._on_hup)

    def _on_stop(self, *_: Any) -> None:
        self.stopping = True

    def _on_hup(self, *_: Any) -> None:
        self.reload = True

    def _on_files(self, paths: set[Path]) -> None:
        with self.housekeeping.files_lock:
            self._files |= paths
        self.wake()

    def _store_lost(self, exc: StoreLost) -> int:
        self.log.error("store_lost", error=str(exc), path=self.store.where)
        print(f"jobrunner: {exc}; stopped", file=sys.stderr)
        self.notifier.send(f"STATUS=stopped: {exc}")
        return EXIT_STORE_LOST

    # --- one pass -----------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> None:
        """One pass of the loop at `now` (default: the clock's)."""
        now = now or self.clock.now()
        mono = self.clock.monotonic()
        if self.reload:
            self.reload = False
            self.housekeeping.reload()
        if self.commits.unwritable and mono >= (self.commits.retry_at_mono or 0.0):
            self.commits.retry(mono)
        if self.commits.unwritable:  # the store cannot be written: start nothing
            self.commits.hold(self._collected(now, mono))
            self.sessions.enforce_timeouts(mono, self.cfg.kill_grace)
            return
        if self.peers is not None:  # (a store shared with other runners)
            self._asked = self.peers.duties(now, mono, self._fence_out) or self._asked
        if self._asked:
            self._asked = False
            self.housekeeping.requests(mono)
        if not self._reconcile(mono):
            return
        # One transaction per pass: the logons and ends of sessions collected and the
        # starts of the entries due; the ends are made durable by a group commit.
        steps = self._collected(now, mono)
        self.sessions.enforce_timeouts(mono, self.cfg.kill_grace)
        due = self.timing.due_soon(now)
        self._dispatch(due or now, mono, steps, start_at=due)
        self.commits.flush(mono, wait=not self.sessions)  # nothing else to wait for
        self.housekeeping.prune(now, mono)
        self.alerts.collect()
        self.sessions.sweep()

    def _fence_out(self) -> None:
        self.log.warning("runner_fenced", running=len(self.sessions))
        self._end_sessions()

    def _reconcile(self, mono: float) -> bool:
        """The job files changed since the last pass, read; False: the store cannot be
        written (they are read again once it can)."""
        with self.housekeeping.files_lock:
            files, self._files = self._files, set()
        if not files:
            return True
        try:
            self.reconciler.paths(files)
        except StoreUnwritable as exc:
            with self.housekeeping.files_lock:
                self._files |= files
            self.commits.store_failed(exc, mono)
            return False
        holding.recheck(self.shared, self.reconciler)
        return True

    def _on_sweep(self) -> None:
        """Each sweep of a shared store: a checkout whose git HEAD moved without an event
        on a job file is reconciled again; then the entries left to runners that hold
        their definitions are checked again and published with the revision."""
        assert self.peers is not None
        self.reconciler.follow_head()
        holding.recheck(self.shared, self.reconciler)
        self.peers.describe(self.reconciler.revision, self.shared.unheld)

    def _dispatch(
        self,
        now: datetime,
        mono: float,
        steps: list[Step],
        *,
        start_at: datetime | None = None,
    ) -> None:
        """One loop over due tasks (the Task Scheduler). The starts of one pass are
        committed together (with `steps`), then their sessions are asked for; with
        `start_at` (= now, a moment ahead) not before that instant. The ends of starts
        that could not be asked for are committed after them."""
        while True:
            starts: list[Step] = []
            if not self.commits.unwritable:
                starts = self.dispatcher.plan_starts(now, mono, stopping=self.stopping)
            if start_at is not None:
                self.clock.sleep((start_at - self.clock.now()).total_seconds())
                start_at = None
            steps += starts
            if not steps:
                return
            self.commits.commit("pass", steps, mono)
            self._end_failed_launches(now, mono)
            if not starts or self.commits.unwritable:
                return
            steps = []

    def _end_failed_launches(self, now: datetime, mono: float) -> None:
        failed = self.sessions.failed_launches()
        if failed:
            self.commits.commit("run_finished", self.endings.plan([], failed, now), mono)

    def _collected(self, now: datetime, mono: float) -> list[Step]:
        """The logons of sessions that started and the ends of sessions that ended. An
        executor found dead, before or while collecting (its pipe's end of file is read
        here), is replaced at once: nothing else would wake the runner for it."""
        executor = self.sessions.executor
        if executor.alive():
            logons, ends = self.sessions.collect(executor.collect())
            if executor.alive():
                return self.endings.plan(logons, ends, now)
            self.commits.commit("pass", self.endings.plan(logons, ends, now), mono)
        self._lost_executor(now, mono)
        return []

    def _commit_collected(self, forced: model.Outcome | None = None) -> None:
        now, mono = self.clock.now(), self.clock.monotonic()
        if forced is None:
            steps = self._collected(now, mono)
        else:
            logons, ends = self.sessions.collect(self.sessions.executor.collect())
            steps = self.endings.plan(logons, ends, now, forced)
        self.commits.commit("pass", steps, mono)

    def _lost_executor(self, now: datetime, mono: float) -> None:
        """The fork server died, and its sessions with it (parent-death signal): their
        runs count as interrupted, and a new fork server takes over."""
        logons, ends = self.sessions.collect(self.sessions.executor.collect())
        self.commits.commit("pass", self.endings.plan(logons, ends, now), mono)
        self.log.warning("executor_lost", sessions=len(self.sessions))
        self.sessions.kill_all()
        self._end_all(scheduler.INTERRUPTED, now, mono)
        self.wakeup.forget_fds()  # its fds close with it
        self.sessions.executor.close()
        self.sessions.executor = self.executors()
        self.timing.forget_prepared()

    def _end_all(self, result: model.Outcome, now: datetime, mono: float) -> None:
        steps = [
            self.endings.plan_end(run, self.endings.forced(run, result), now, None)
            for run in self.sessions.take_all()
        ]
        self.commits.commit("run_finished", steps, mono)

    def _run_ended(
        self,
        entry_id: str,
        kept: model.Entry | None,
        stored: model.Entry | None,
        log: model.LogEntry,
        last: bool,
    ) -> None:
        self.pruner.ended(entry_id, kept)
        self.alerts.run_ended(kept or stored, log, last)

    # --- waiting, stopping ----------------------------------------------------------------------

    def wait(self, timeout: float | None) -> None:
        woken = self.wakeup.wait(timeout, self.sessions.executor.fds(), self._task_request)
        self._asked = self._asked or woken.asked
        if self.notifier.watchdog is not None:
            self.notifier.send("WATCHDOG=1", self.status())

    def _task_request(self, uid: int, request: dict[str, Any]) -> dict[str, Any]:
        """A task asked for through the task socket by the account of `uid`."""
        answer = tasks.serve_request(self.cfg, self.store, uid, request, self.clock.now())
        self.log.info("task_requested", uid=uid, **answer)
        return answer

    def status(self) -> str:
        return self.housekeeping.status(self.clock.monotonic())

    def _announce(self) -> None:
        self.notifier.send(self.status())

    def drain(self) -> None:
        """SIGTERM: no more dispatching; running sessions get shutdown_grace, then end;
        their runs count as interrupted (retried on the platform profile)."""
        if not self.sessions:
            return
        grace = self.cfg.shutdown_grace.total_seconds()
        self.log.info("runner_draining", running=len(self.sessions), grace_s=grace)
        graced_mono = self.clock.monotonic() + grace
        while self.sessions and self.clock.monotonic() < graced_mono:
            self.wait(max(0.0, graced_mono - self.clock.monotonic()))
            self._commit_collected()
        self._commit_collected()  # the pids of sessions that started meanwhile
        self._end_sessions()

    def _end_sessions(self) -> None:
        """SIGKILL every session, see them go (for up to KILL_WAIT), and end their runs as
        interrupted (retried on the platform profile)."""
        self.sessions.kill_all()
        killed_mono = self.clock.monotonic() + KILL_WAIT
        while (
            self.sessions
            and self.clock.monotonic() < killed_mono
            and self.sessions.executor.alive()
        ):
            self.wait(0.2)
            self._commit_collected(forced=scheduler.INTERRUPTED)
        self._end_all(scheduler.INTERRUPTED, self.clock.now(), self.clock.monotonic())
