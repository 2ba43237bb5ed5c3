"""`jobrunner migrate-store`: copy a single runner's SQLite state into the shared store
the config names, so a cluster starts where that runner left off.

Everything goes over in one transaction of the target: the entries (with their runtime
state; they are numbered anew), the log (numbered anew), the session events, the tasks
that are not an entry's (those follow their entries), the pauses, the work items (their
queues, failures and per-run counts, with their numbers) and the report documents kept
in the runner's folder (under their log entries' new numbers; the files stay where they
are, so that nothing is lost if the copy fails). The runner of that state must be
stopped (its folder's lock is held meanwhile), and the target must hold no entries yet.
A run the runner left in process is recovered by the first runner of the cluster, as a
run of a runner that is not there (an orphan).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jobrunner import config, errors, lifecycle, model
from jobrunner.lock import RunnerLock
from jobrunner.reports import outputs
from jobrunner.store import Store
from jobrunner.store import open as store_open
from jobrunner.store.sql.base import ITEM_TABLES, SqlStore

if TYPE_CHECKING:
    from jobrunner.store.postgres import MovedDocument


@dataclass(frozen=True, kw_only=True, slots=True)
class Moved:
    entries: int
    log: int
    sessions: int
    tasks: int
    pauses: int
    items: int
    documents: int
    source: str
    target: str


def copy_state(source: Store, target: Store) -> model.Transition:
    """The one transition that writes `source`'s state into an empty `target` (with
    the store's revision of the job files)."""
    return _copied(source, target)[0]


def _copied(source: Store, target: Store) -> tuple[model.Transition, list[int]]:
    """`copy_state`'s transition, and the source's numbers of the log entries it inserts
    (in its order: each gets a new number in the target)."""
    if target.list_entries() or target.list_tasks():
        raise errors.JobRunnerError(f"{target.where} holds entries or tasks already")
    logs = sorted(source.list_log(), key=lambda g: g.entry_no)
    events = sorted(source.list_sessions(), key=lambda e: e.seq)
    revision = source.revision()  # (so that no older checkout writes over its entries)
    moved = (
        None if revision is None else model.RevisionMove(expected=target.revision(), to=revision)
    )
    transition = model.Transition(
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
    return transition, [g.entry_no for g in logs]


def migrate(cfg: config.Config) -> Moved:
    """Copy the SQLite state in `cfg.state_dir` into the store `cfg.store` names."""
    if cfg.store is None:
        raise errors.JobRunnerError("migrate-store: the config names no store: to copy into")
    sqlite_cfg = dataclasses.replace(cfg, store=None)
    if not store_open.has_state(sqlite_cfg):
        raise errors.JobRunnerError(f"migrate-store: no state in {cfg.state_dir} to copy")
    from jobrunner.store.postgres import PostgresStore  # (psycopg: not at every command)

    with RunnerLock(cfg.state_dir):  # its runner stopped, and none starts meanwhile
        source, target = store_open.open_store(sqlite_cfg), store_open.open_store(cfg)
        try:
            if not isinstance(source, SqlStore) or not isinstance(target, PostgresStore):
                raise errors.JobRunnerError(
                    f"migrate-store copies a SQLite state into PostgreSQL, not into {target.where}"
                )
            transition, numbers = _copied(source, target)
            tables = {table: source.table_rows(table) for table in ITEM_TABLES}
            documents = _documents(sqlite_cfg, numbers)
            target.commit_migration(transition, tables, documents)
            return Moved(
                entries=len(transition.put),
                log=len(transition.log_insert),
                sessions=len(transition.events),
                tasks=len(transition.task_put),
                pauses=len(transition.pause_put),
                items=len(tables["items"][1]),
                documents=len(documents),
                source=source.where,
                target=target.where,
            )
        finally:
            source.close()
            target.close()


def _documents(cfg: config.Config, numbers: list[int]) -> list[MovedDocument]:
    """The report documents kept in `cfg`'s folder whose log entries (the source's
    `numbers`, in the order they go over) go over; one whose log entry was pruned is
    deleted at that runner's next start anyway."""
    from jobrunner.store.postgres import MovedDocument

    places = {number: at for at, number in enumerate(numbers)}
    kept = outputs.FolderOutputs(outputs.folder(cfg))
    return [
        MovedDocument(
            log_at=places[log_no],
            entry_id=doc.entry_id,
            at=doc.at,
            format=doc.format,
            content=kept.read(doc),
        )
        for log_no, doc in sorted(kept.index().items())
        if log_no in places
    ]
