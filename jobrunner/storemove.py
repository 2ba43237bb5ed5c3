"""`jobrunner migrate-store`: copy a single runner's SQLite state into the shared store
the config names, so a cluster starts where that runner left off.

Everything goes over in one transaction of the target: the entries (with their runtime
state; they are numbered anew), the log, the session events, the tasks that are not an
entry's (those follow their entries) and the pauses. The runner of that state must be
stopped (its folder's lock is held meanwhile), and the target must hold no entries yet.
A run the runner left in process is recovered by the first runner of the cluster, as a
run of a runner that is not there (an orphan).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from jobrunner import config, errors, lifecycle, model
from jobrunner.lock import RunnerLock
from jobrunner.store import Store
from jobrunner.store import open as store_open


@dataclass(frozen=True, kw_only=True, slots=True)
class Moved:
    entries: int
    log: int
    sessions: int
    tasks: int
    pauses: int
    source: str
    target: str


def copy_state(source: Store, target: Store) -> model.Transition:
    """The one transition that writes `source`'s state into an empty `target` (with
    the store's revision of the job files)."""
    if target.list_entries() or target.list_tasks():
        raise errors.JobRunnerError(f"{target.where} holds entries or tasks already")
    logs = sorted(source.list_log(), key=lambda g: g.entry_no)
    events = sorted(source.list_sessions(), key=lambda e: e.seq)
    revision = source.revision()  # (so that no older checkout writes over its entries)
    moved = (
        None if revision is None else model.RevisionMove(expected=target.revision(), to=revision)
    )
    return model.Transition(
        revision=moved,
        reason="migrated",
        put=tuple(dataclasses.replace(e, version=0) for e in source.list_entries()),
        log_insert=tuple(dataclasses.replace(g, entry_no=0) for g in logs),
        events=tuple(dataclasses.replace(e, seq=0) for e in events),
        task_put=tuple(
            dataclasses.replace(t, version=0)
            for t in source.list_tasks()
            if t.object != lifecycle.DISPATCH
        ),
        pause_put=tuple(source.pauses()),
    )


def migrate(cfg: config.Config) -> Moved:
    """Copy the SQLite state in `cfg.state_dir` into the store `cfg.store` names."""
    if cfg.store is None:
        raise errors.JobRunnerError("migrate-store: the config names no store: to copy into")
    sqlite_cfg = dataclasses.replace(cfg, store=None)
    if not store_open.has_state(sqlite_cfg):
        raise errors.JobRunnerError(f"migrate-store: no state in {cfg.state_dir} to copy")
    with RunnerLock(cfg.state_dir):  # its runner stopped, and none starts meanwhile
        source, target = store_open.open_store(sqlite_cfg), store_open.open_store(cfg)
        try:
            transition = copy_state(source, target)
            target.commit(transition)
            return Moved(
                entries=len(transition.put),
                log=len(transition.log_insert),
                sessions=len(transition.events),
                tasks=len(transition.task_put),
                pauses=len(transition.pause_put),
                source=source.where,
                target=target.where,
            )
        finally:
            source.close()
            target.close()
