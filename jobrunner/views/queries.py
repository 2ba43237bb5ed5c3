"""What readers ask of the state and of the job files: the entries and what is paused,
one entry in full, the log, session events, what a reconcile would change, a job's
definition by id or file. Each takes an open Store (the caller opens and closes it)
and only reads."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jobrunner import config, errors, jobfiles, model, reconcile, store


@dataclass(frozen=True, kw_only=True, slots=True)
class Listing:
    """The entries asked for, and every pause (of the runner and of categories)."""

    entries: list[model.Entry]
    paused: list[model.Pause]


@dataclass(frozen=True, kw_only=True, slots=True)
class Detail:
    """One entry, its last log entries (newest first) and every pause."""

    entry: model.Entry
    logs: list[model.LogEntry]
    paused: list[model.Pause]


def listing(
    db: store.Store, *, status: model.EntryStatus | None = None, category: str | None = None
) -> Listing:
    entries = db.list_entries(status=status, category=category)
    return Listing(entries=entries, paused=db.pauses())


def known_ids(db: store.Store) -> list[str]:
    """Every entry's id (an unknown id's error names the nearest)."""
    return [e.id for e in db.list_entries()]


def detail(db: store.Store, entry_id: str, *, logs: int = 5) -> Detail:
    """UnknownEntry when no entry has this id."""
    entry = db.get_entry(entry_id)
    if entry is None:
        raise errors.UnknownEntry(entry_id, known_ids(db))
    return Detail(entry=entry, logs=db.list_log(entry_id=entry.id, limit=logs), paused=db.pauses())


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


def kept(db: store.Store, files: Sequence[str]) -> list[model.Entry]:
    """The entries of these (rejected) job files: each keeps its last good definition."""
    return db.entries_by_source(files)


def plan(cfg: config.Config, db: store.Store, now: datetime) -> reconcile.Plan:
    """What reconciling the jobs folder against the stored entries would change at
    `now`, without writing."""
    stored = {e.id: e for e in db.list_entries()}
    results = jobfiles.scan(cfg.jobs_dir, cfg.timezone, cfg.base)
    return reconcile.diff(results, stored, now)


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
