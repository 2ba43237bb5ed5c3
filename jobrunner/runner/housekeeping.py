"""What the loop does besides sessions: operators' requests (cancels, pauses) read from
the store, the status line for the service manager, a config reload (SIGHUP) and the
pruning pass."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import gc
import socket
import threading
from datetime import datetime

from jobrunner import (
    alerts,
    config,
    control,
    delivery,
    errors,
    model,
    notify,
    pruning,
    reconciler,
    wallclock,
)
from jobrunner.runner import holding
from jobrunner.runner.commits import GroupCommit
from jobrunner.runner.sessions import SessionTable
from jobrunner.runner.shared import Shared
from jobrunner.runner.timing import Timing
from jobrunner.store import StoreUnwritable


def alert_settings(cfg: config.Config) -> alerts.Settings:
    return alerts.settings(cfg.notify, socket.gethostname())


class Housekeeping:
    def __init__(
        self,
        shared: Shared,
        table: SessionTable,
        commits: GroupCommit,
        timing: Timing,
        *,
        reconciler: reconciler.Reconciler,
        pruner: pruning.Pruner,
        alerts: delivery.Alerts,
        notifier: notify.Notifier,
    ) -> None:
        self.shared, self.table, self.commits, self.timing = shared, table, commits, timing
        self.reconciler, self.pruner, self.alerts = reconciler, pruner, alerts
        self.notifier = notifier
        self.files_lock = threading.Lock()

    def status(self, mono: float) -> str:
        running = len(self.table)
        if self.commits.retry_at_mono is not None:
            left = max(0.0, self.commits.retry_at_mono - mono)
            return (
                f"STATUS={running} running, starting nothing: the state store "
                f"cannot be written ({self.commits.error}); next try in {left:.1f} s"
            )
        paused = control.runner_paused(self.shared.paused)
        if paused is not None:
            return f"STATUS={running} running, paused by {paused.by}: starting nothing"
        categories = ", ".join(sorted(control.paused_categories(self.shared.paused)))
        held = f", paused: {categories}" if categories else ""
        return f"STATUS={running} running, next due {self.timing.next_due() or '-'}{held}"

    def requests(self, mono: float) -> None:
        """What a command asked through the store: runs to end, pauses."""
        self.read_pauses()
        for entry in self.shared.store.list_entries(status=model.EntryStatus.IN_PROCESS):
            run = self.table.by_session.get(entry.session_id or "")
            if entry.cancel and run is not None and not run.cancel_by and run.task is None:
                run.cancel_by, run.entry = entry.cancel, entry
        # (signals the sessions to end at once)
        self.table.enforce_timeouts(mono, self.shared.cfg.kill_grace)
        self.notifier.send(self.status(mono))

    def read_pauses(self) -> None:
        log = self.shared.log
        before = {p.category: p for p in self.shared.paused}
        self.shared.paused = self.shared.store.pauses()
        after = {p.category: p for p in self.shared.paused}
        for category in before.keys() - after.keys():
            if category is None:
                log.info("runner_resumed")
            else:
                log.info("category_resumed", category=category)
        for category in after.keys() - before.keys():
            p = after[category]
            since = wallclock.iso(p.at)
            if category is None:
                log.info("runner_paused", by=p.by, since=since)
            else:
                log.info("category_paused", category=category, by=p.by, since=since)

    def reload(self) -> None:
        cfg, log = self.shared.cfg, self.shared.log
        try:
            fresh = config.load(cfg.path)
        except errors.ConfigError as exc:
            log.warning("config_rejected", problems=[p.format() for p in exc.problems])
            return
        refusal = _jobs_dir_refusal(cfg, fresh)
        if refusal is not None:  # a full reconcile of a missing folder would remove all
            log.warning("config_rejected", problems=[refusal])
            return
        cfg = dataclasses.replace(fresh, state_dir=cfg.state_dir)
        self.shared.reconfigure(cfg)
        self.reconciler.cfg = cfg
        self.pruner.reconfigure(cfg)
        self.alerts.reconfigure(alert_settings(cfg))
        self.reconciler.full()
        holding.recheck(self.shared, self.reconciler)
        log.info("config_reloaded", path=str(cfg.path))

    def prune(self, now: datetime, mono: float) -> None:
        try:
            self.pruner.tick(now)
        except StoreUnwritable as exc:
            self.commits.store_failed(exc, mono)


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


def release_memory() -> None:
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(None).malloc_trim(0)
    gc.freeze()  # what is left lives as long as the runner: no collection walks it again
