"""The runner: the only loop. It alone reads the clock and does I/O; every decision is
made by the pure modules (scheduler, reconcile, recurrence, retry, taskflow).

Its parts, each importing only those below it:
  loop        Runner: tick (one pass), serve, wait, drain; the only reader of the clock
  housekeeping, timing   operators' requests, reload, status, pruning; when to wake next
  peers       with a store shared by other runners: lease, fencing, busy categories,
              the wake on their commits, recovery of dead runners' runs (cluster.py)
  recovery    the runs of a runner that died
  endings     logons and ends -> Steps;  dispatch: due tasks -> start Steps
  holding     the entries whose stored definitions its checkout does not hold (left to others)
  commits     Step, the group commit and the sync thread, a store that cannot be written
  sessions    the table of running sessions: launch, collect (reports ends), timeouts
  wakeup      self-pipe, wake and task sockets, executor fds
  shared      the config, store, logger and pauses the parts share
`build(cfg)` is the one place that makes the store, the executor and the clock.
"""

from __future__ import annotations

import os
from datetime import timedelta

from jobrunner import cluster, config, executor, statedir
from jobrunner.clock import SystemClock
from jobrunner.lock import RunnerLock
from jobrunner.runner import sessions
from jobrunner.runner.loop import EXIT_STORE_LOST, Runner
from jobrunner.runner.wakeup import Wakeup
from jobrunner.store import SharedStore
from jobrunner.store import open as store_open

__all__ = ["EXIT_STORE_LOST", "Runner", "build", "run"]


def build(
    cfg: config.Config, *, until_idle: bool = False, horizon: timedelta = timedelta(0)
) -> Runner:
    """A runner of `cfg` with its real parts: the state store, a fork-server executor,
    the system clock and the wakeup's sockets (call with the runner lock held)."""
    store = store_open.open_store(cfg, background_checkpoints=True)
    statedir.make_dir(sessions.sessions_dir(cfg.state_dir))
    # sessions find their runner's store through these (jobrunner.tasks)
    os.environ["JOBRUNNER_STATE_DIR"] = str(cfg.state_dir)
    if cfg.path is not None:
        os.environ["JOBRUNNER_CONFIG"] = str(cfg.path)
    wakeup = Wakeup()
    wakeup.bind(cfg.state_dir)

    pooled = cfg.session_mode == "pool"

    def executors() -> executor.Executor:
        return executor.make(
            cfg.session_mode,
            preload=cfg.session_preload,
            pool=1 if pooled else 4,  # (waiting children for sessions of their own)
            max_runs=cfg.max_runs_per_process,
            pool_size=cfg.workers + 2,  # (a process makes its result durable after its end)
            prefork=pooled,
        )

    # several runners on one store: due times and leases on its server's clock
    clock = cluster.ServerClock(store) if isinstance(store, SharedStore) else SystemClock()
    return Runner(
        cfg,
        store=store,
        executors=executors,
        clock=clock,
        wakeup=wakeup,
        until_idle=until_idle,
        horizon=horizon,
    )


def run(cfg: config.Config, *, until_idle: bool = False, horizon: timedelta = timedelta(0)) -> int:
    """`jobrunner run`: hold the runner lock, build the runner and serve until stopped;
    the exit status."""
    with RunnerLock(cfg.state_dir):
        runner = build(cfg, until_idle=until_idle, horizon=horizon)
        try:
            return runner.serve()
        finally:
            runner.close()
