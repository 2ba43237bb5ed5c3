"""What readers ask of the state and of the job files: the entries and what is paused,
one entry in full, the log, session events, the work items' counts, what a reconcile
would change, a job's definition by id or file. Each takes an open Store (the caller
opens and closes it) and only reads."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from jobrunner import checkout, config, errors, jobfiles, model, reconcile, revision, store
from jobrunner.items import model as items_model
from jobrunner.items import ops as items_ops
from jobrunner.items import storage as items_storage
from jobrunner.views import nodes

ItemCounts = dict[str, dict[str, int]]
"""Entry id -> work item status -> how many, for the entries that have items."""
RunCounts = dict[str, list[items_model.RunCount]]
"""Session id -> what it did with each queue of work items it opened."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Listing:
    """The entries asked for, every pause (of the runner and of categories) and the
    entries' work item counts."""

    entries: list[model.Entry]
    paused: list[model.Pause]
    items: ItemCounts = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True, slots=True)
class Detail:
    """One entry, its last log entries (newest first), every pause, the entry's work
    item counts and what the runs of those log entries did with work items."""

    entry: model.Entry
    logs: list[model.LogEntry]
    paused: list[model.Pause]
    items: ItemCounts = field(default_factory=dict)
    runs: RunCounts = field(default_factory=dict)
    waiting_for_revision: str | None = None
    """On a shared store: the revision its due run waits for a runner to hold."""


def listing(
    db: store.Store, *, status: model.EntryStatus | None = None, category: str | None = None
) -> Listing:
    entries = db.list_entries(status=status, category=category)
    return Listing(entries=entries, paused=db.pauses(), items=item_counts(db))


def known_ids(db: store.Store) -> list[str]:
    """Every entry's id (an unknown id's error names the nearest)."""
    return [e.id for e in db.list_entries()]


def detail(db: store.Store, entry_id: str, *, logs: int = 5) -> Detail:
    """UnknownEntry when no entry has this id."""
    entry = db.get_entry(entry_id)
    if entry is None:
        raise errors.UnknownEntry(entry_id, known_ids(db))
    rows = db.list_log(entry_id=entry.id, limit=logs)
    waiting = None
    if isinstance(db, store.SharedStore):
        waiting = nodes.waiting_for(entry, db.nodes(), db.server_now())
    return Detail(
        entry=entry,
        logs=rows,
        paused=db.pauses(),
        items=item_counts(db, [entry.id]),
        runs=item_runs(db, rows),
        waiting_for_revision=waiting,
    )


def check_log_id(db: store.Store, entry_id: str) -> None:
    """UnknownEntry unless an entry has this id or a log entry does (a removed entry's
    log stays, and a task's is `task:ID`)."""
    if db.get_entry(entry_id) is None and not db.list_log(entry_id=entry_id, limit=1):
        raise errors.UnknownEntry(entry_id, known_ids(db))


def log(
    db: store.Store,
    *,
    entry_id: str | None = None,
    status: model.LogStatus | None = None,
    since: datetime | None = None,
    limit: int | None = None,
) -> list[model.LogEntry]:
    """Log entries, newest first."""
    return db.list_log(entry_id=entry_id, status=status, since=since, limit=limit)


def sessions(
    db: store.Store, *, since: datetime | None = None, limit: int | None = None
) -> list[model.SessionEvent]:
    """Session events (logon, logoff), newest first."""
    return db.list_sessions(since=since, limit=limit)


@contextlib.contextmanager
def _items(db: store.Store) -> Iterator[items_storage.ItemStore]:
    items = items_storage.for_store(db)
    try:
        yield items
    finally:
        items.close()


def item_counts(db: store.Store, entry_ids: Iterable[str] | None = None) -> ItemCounts:
    """The work item counts of these entries (default: every entry); none for a state
    file without the item tables yet."""
    try:
        with _items(db) as items:
            return items_ops.status_counts(items, entry_ids)
    except items_model.ItemError:
        return {}


def item_runs(db: store.Store, rows: Iterable[model.LogEntry]) -> RunCounts:
    """What the runs of these log entries did with work items (by their session ids)."""
    try:
        with _items(db) as items:
            return items_ops.run_counts(items, [row.session_id for row in rows])
    except items_model.ItemError:
        return {}


def kept(db: store.Store, files: Sequence[str]) -> list[model.Entry]:
    """The entries of these (rejected) job files: each keeps its last good definition."""
    return db.entries_by_source(files)


def plan(cfg: config.Config, db: store.Store, now: datetime) -> revision.Guarded:
    """What reconciling the jobs folder against the stored entries would change at
    `now`, without writing: as the revision rule lets this checkout write it."""
    where = checkout.Checkout(git=isinstance(db, store.SharedStore))
    own, stored_revision = where.read(cfg), db.revision()
    found = where.standing(cfg, stored_revision, own)
    stored = {e.id: e for e in db.list_entries()}
    results = jobfiles.scan(cfg.jobs_dir, cfg.timezone, cfg.base)
    return revision.guard(reconcile.diff(results, stored, now), stored_revision, own, found)


def find_spec(cfg: config.Config, target: str, known: Sequence[str] = ()) -> model.JobSpec:
    """An entry by file path, or by id among the configured job files. An unknown id
    names the nearest of the files' ids and `known`; the id of an invalid file (by its
    name) raises that file's problems."""
    path = Path(target)
    if path.is_file() or (path.suffix in jobfiles.JOB_SUFFIXES and os.sep in target):
        return jobfiles.load_file(path, timezone=cfg.timezone, display=jobfiles.display(path))
    ids, invalid = list(known), None
    if cfg.jobs_dir.is_dir():
        for candidate in jobfiles.job_files(cfg.jobs_dir):
            try:
                loaded = jobfiles.load_file(
                    candidate, timezone=cfg.timezone, display=jobfiles.display(candidate)
                )
            except errors.SpecError as exc:
                if jobfiles.default_id(candidate) == target:
                    invalid = exc
                continue
            if loaded.id == target:
                return loaded
            ids.append(loaded.id)
    raise invalid or errors.UnknownEntry(target, ids)


def definition(cfg: config.Config, db: store.Store, target: str) -> model.JobSpec:
    """The stored entry's definition (its last good one), else the job file of that id."""
    entry = db.get_entry(target)
    if entry is not None:
        return entry.spec
    return find_spec(cfg, target, known_ids(db))
