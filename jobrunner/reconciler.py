"""The live reconciler: a full reconcile of the jobs folder at start, then a reconcile
of just the files each debounced watcher batch names. Thin shell over `reconcile`:
reads files, commits plans, logs what changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from jobrunner import (
    config,
    jobfiles,
    model,
    reconcile,
    schemas,
    spec,
    store,
    telemetry,
    wallclock,
    watcher,
)

ATTEMPTS = 3
BULK = 500  # past this many files, one full read beats many small ones


class Reconciler:
    def __init__(
        self, cfg: config.Config, db: store.Store, clock: Callable[[], datetime], log: Any = None
    ) -> None:
        self.cfg, self.store, self.now = cfg, db, clock
        self.log = log or telemetry.get_logger()
        self._watcher: watcher.Watcher | None = None

    def full(self) -> reconcile.Plan:
        """Reconcile the whole folder: files whose stamp (inode, size, times) matches the
        one stored are not read again; new, changed and vanished files are."""
        on_disk = jobfiles.stamps(self.cfg.jobs_dir, self.cfg.base)
        stored = self.store.source_stamps()
        folder = self.cfg.jobs_dir
        changed = [
            folder / name.rpartition("/")[2]
            for name, stamp in on_disk.items()
            if stored.get(name) != stamp
        ]
        gone = [self.cfg.base / name for name in stored.keys() - on_disk.keys()]
        if not changed and not gone:
            return reconcile.Plan(changes=(), unchanged=len(on_disk))
        plan = self.paths([*changed, *gone])
        unchanged = plan.unchanged + len(on_disk) - len(changed)
        return reconcile.Plan(changes=plan.changes, unchanged=unchanged)

    def paths(self, paths: Iterable[Path]) -> reconcile.Plan:
        """Reconcile just these files (created, changed, renamed or deleted)."""
        results = jobfiles.read_paths(paths, self.cfg.timezone, self.cfg.base)
        scope = {r.path for r in results}
        for attempt in range(ATTEMPTS):
            plan = reconcile.diff(results, self._stored(results, scope), self.now(), scope=scope)
            if self._apply(plan, attempt):
                return plan
        raise store.StoreConflict("the store kept changing during reconcile")

    def _stored(
        self, results: list[reconcile.FileResult], scope: set[str]
    ) -> dict[str, model.Entry]:
        # What the diff needs: entries from these files and entries with their ids.
        if len(scope) > BULK:
            return {e.id: e for e in self.store.list_entries()}
        ids = {r.spec.id for r in results if r.spec is not None}
        found = self.store.entries_by_source(scope)
        found += [e for i in ids if (e := self.store.get_entry(i)) is not None]
        return {e.id: e for e in found}

    def _apply(self, plan: reconcile.Plan, attempt: int) -> bool:
        # Atomic, but with no fsync of its own (the next one covers it): the job files
        # are the record of what a reconcile stores, and a start reconciles them again,
        # so a power loss that takes this commit takes nothing that is not in a file.
        try:
            reconcile.apply(plan, self.store, durable=False)
        except store.StoreConflict:
            if attempt == ATTEMPTS - 1:
                raise
            return False
        self._log(plan)
        return True

    def _log(self, plan: reconcile.Plan) -> None:
        for change in plan.changes:
            if change.kind is reconcile.ChangeKind.RESTAMP:
                continue
            level = "warning" if change.kind is reconcile.ChangeKind.REJECT else "info"
            getattr(self.log, level)(_EVENTS[change.kind], **_fields(change))
            after = change.after
            if (
                change.kind in _REDEFINED
                and after is not None
                and after.status is model.EntryStatus.READY
            ):
                self.log.info(
                    "entry_enqueued",
                    entry_id=after.id,
                    status=after.status.value,
                    earliest_start=wallclock.iso(after.earliest_start),
                    attempts=after.attempts,
                    max_retries=after.spec.max_retries,
                    category=after.spec.category,
                    recurring=after.spec.recurring,
                )

    def watch(self, on_batch: Callable[[set[Path]], None] | None = None) -> None:
        """Start watching the jobs folder; by default each batch is reconciled at once
        (in the watcher's thread); a runner passes its own hand-over instead."""
        self.cfg.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._watcher = watcher.Watcher(self.cfg.jobs_dir, on_batch or self._reconcile_batch)
        self._watcher.start()

    def prepare(self) -> None:
        """Get ready for the first edit: the job files' validator is compiled in a
        thread of its own (a start that found every file unchanged read none)."""
        schemas.prepare(spec.SCHEMA)

    def _reconcile_batch(self, paths: set[Path]) -> None:
        self.paths(paths)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None


_EVENTS = {
    reconcile.ChangeKind.ADD: "entry_added",
    reconcile.ChangeKind.CHANGE: "entry_changed",
    reconcile.ChangeKind.REMOVE: "entry_removed",
    reconcile.ChangeKind.REJECT: "job_file_rejected",
    reconcile.ChangeKind.ACCEPT: "job_file_accepted",
    reconcile.ChangeKind.MOVE: "entry_changed",
}
_REDEFINED = (reconcile.ChangeKind.ADD, reconcile.ChangeKind.CHANGE)


def _fields(change: reconcile.Change) -> dict[str, Any]:
    """The log event's fields for one change."""
    fields: dict[str, Any] = {"entry_id": change.entry_id, "file": change.path}
    if change.keys:
        fields["keys"] = {k: [old, new] for k, (old, new) in change.keys.items()}
    if change.problems:
        fields["problems"] = [p.format() for p in change.problems]
    if change.after is not None and change.kind in _REDEFINED:
        fields["status"] = change.after.status.value
        fields["earliest_start"] = wallclock.iso(change.after.earliest_start)
    if change.deferred:
        fields["after_run"] = True
    return fields
