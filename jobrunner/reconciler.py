"""The live reconciler: a full reconcile of the jobs folder at start, then a reconcile
of just the files each debounced watcher batch names. Thin shell over `reconcile` and
`revision`: reads files and the checkout's revision, commits plans as the revision rule
lets this checkout write them, logs what changed (and, once each, what it kept), and
knows which stored definitions its own files hold (`holds`: a runner starts only those).
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import logging
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner import (
    checkout,
    config,
    jobfiles,
    model,
    reconcile,
    revision,
    schemas,
    spec,
    store,
    telemetry,
    wallclock,
    watcher,
)

ATTEMPTS = 3
RECENT = timedelta(seconds=10)  # how long a git pull may take to move HEAD after its files
BULK = 500  # past this many files, one full read beats many small ones


class Reconciler:
    def __init__(
        self,
        cfg: config.Config,
        db: store.Store,
        clock: Callable[[], datetime],
        log: Any = None,
        *,
        git: bool | None = None,
    ) -> None:
        """`git`: whether the checkout's git commit is its revision when the config gives
        none (default: on a store several runners share)."""
        self.cfg, self.store, self.now = cfg, db, clock
        self.log = log or telemetry.get_logger()
        self._watcher: watcher.Watcher | None = None
        shared = isinstance(db, store.SharedStore) if git is None else git
        self.checkout = checkout.Checkout(git=shared)
        self.revision: str | None = None  # this checkout's, as the last reconcile read it
        self.standing = revision.Standing.NONE  # how the store's stood to it then
        self._ruled = False  # a revision on either side: the rule is in force
        self._own: dict[str, Held] = {}  # job file -> what definition it holds (`held`)
        self._own_whole = False  # `_own` has every job file (kept only under the rule)
        self._kept: dict[str, tuple[Any, ...]] = {}  # job file -> its kept change, logged
        self._recent: dict[str, tuple[str | None, datetime]] = {}  # read: its revision, when

    def full(self) -> reconcile.Plan:
        """Reconcile the whole folder: files whose stamp (inode, size, times) matches the
        one stored are not read again (the definitions they hold are the stored ones);
        new, changed and vanished files are."""
        with _collector_paused(True):
            # What each file holds is kept only where the revision rule may be in force
            # (a shared store, a revision on either side): a runner of 10,000 entries
            # without one keeps 2 MiB less. A rule that comes into force later (the
            # store's revision set from elsewhere) reconciles the whole folder again.
            whole = self._ruled or self.checkout.git or self.cfg.revision is not None
            whole = whole or self.store.revision() is not None
            stored = self.store.sources()
            # a first reconcile (nothing stored) reads every file: no stamp tells it more
            on_disk = jobfiles.stamps(self.cfg.jobs_dir, self.cfg.base, stamped=bool(stored))
            folder = self.cfg.jobs_dir
            changed, own = [], {}
            for name, stamp in on_disk.items():
                found = stored.get(name)
                if found is None or found.stamp != stamp:
                    changed.append(folder / name.rpartition("/")[2])
                elif whole:
                    own[name] = held(name, found.entry_id, found.digest)
            gone = [self.cfg.base / name for name in stored.keys() - on_disk.keys()]
            del stored  # (before the reads: its 10,000 rows are garbage now)
            self._own, self._own_whole = own, whole
            plan = self.paths([*changed, *gone])  # (none: the store's revision may move)
        unchanged = plan.unchanged + len(on_disk) - len(changed)
        return dataclasses.replace(plan, unchanged=unchanged)

    def paths(self, paths: Iterable[Path]) -> reconcile.Plan:
        """Reconcile just these files (created, changed, renamed or deleted); what it
        writes, as the revision rule lets it."""
        paths = list(paths)
        with _collector_paused(len(paths) > BULK):
            results = jobfiles.read_paths(paths, self.cfg.timezone, self.cfg.base)
            own = self.checkout.read(self.cfg)
            if own is not None:
                results = [_of_revision(r, own) for r in results]
            scope = {r.path for r in results}
            for attempt in range(ATTEMPTS):
                stored_revision = self.store.revision()  # (before the entries it goes with)
                found = self.checkout.standing(self.cfg, stored_revision, own)
                stored = self._stored(results, scope)
                plan = reconcile.diff(results, stored, self.now(), scope=scope)
                guarded = revision.guard(plan, stored_revision, own, found)
                if self._apply(guarded.plan, attempt):
                    self.revision, self.standing = own, found
                    if own is not None and self.cfg.revision is None:  # (see follow_head)
                        read_at = self.now()
                        self._recent.update((r.path, (own, read_at)) for r in results)
                    self._ruled = own is not None or stored_revision is not None
                    self._hold(results, plan, stored, found in revision.WRITES)
                    self._log_kept(scope, guarded, stored_revision)
                    if self._ruled and not self._own_whole:  # (the rule came into force)
                        self.full()
                    return guarded.plan
        raise store.StoreConflict("the store kept changing during reconcile")

    def holds(self, entry: model.Entry) -> bool:
        """Whether this checkout holds the entry's stored definition: its own job file at
        the entry's source defines it, digest for digest. A runner starts runs of only
        these. While neither this checkout nor the store has a revision, every entry."""
        return self.holds_definition(entry.spec.source, entry.id, entry.spec.digest)

    def holds_definition(self, source: str, entry_id: str, digest: str) -> bool:
        """`holds` for a stored definition known by its file, entry id and digest."""
        return not self._ruled or self._own.get(source) == held(source, entry_id, digest)

    def follow_head(self) -> None:
        """Reconcile again when the checkout's git HEAD moved without a job file event
        since (a pull of other files; or a pull whose job files were read just before git
        moved HEAD, after writing them: they were stored with the revision before). The
        files read in the last RECENT with another revision are read again (the same
        definitions: their revision is written). Asks git only where the last reconcile
        found a commit (called each sweep)."""
        if self.revision is None or self.cfg.revision is not None:
            return
        now = self.now()
        self._recent = {p: seen for p, seen in self._recent.items() if now - seen[1] < RECENT}
        head = self.checkout.read(self.cfg)
        if head != self.revision:
            again = [self.cfg.base / p for p, (read, _) in self._recent.items() if read != head]
            self.paths(again)

    def _hold(
        self,
        results: list[reconcile.FileResult],
        plan: reconcile.Plan,
        stored: dict[str, model.Entry],
        writes: bool,
    ) -> None:
        """What these files hold now: a valid file its definition; a rejected one the
        last good definition its entry keeps, when this checkout may write (it marked
        the entry), else nothing."""
        for r in results:
            if r.spec is not None:
                self._own[r.path] = held(r.path, r.spec.id, r.spec.digest)
            else:
                self._own.pop(r.path, None)
        by_source = {e.spec.source: e for e in stored.values()}
        for change in plan.of(reconcile.ChangeKind.REJECT):
            kept = by_source.get(change.path)
            if writes and kept is not None:
                self._own[change.path] = held(change.path, kept.id, kept.spec.digest)
            else:
                self._own.pop(change.path, None)

    def _log_kept(
        self, scope: set[str], guarded: revision.Guarded, stored_revision: str | None
    ) -> None:
        """definition_newer_in_store, once for each change this checkout did not make
        (until the file, the store's revision or its own changes)."""
        kept = {c.path: c for c in guarded.kept}
        for path in scope - kept.keys():
            self._kept.pop(path, None)
        for path, change in kept.items():
            shown = change.after or change.before
            key = (change.kind, change.entry_id, shown and shown.spec.digest, stored_revision)
            if self._kept.get(path) == (*key, self.revision):
                continue
            self._kept[path] = (*key, self.revision)
            self.log.warning(
                "definition_newer_in_store",
                entry_id=change.entry_id,
                file=path,
                change=change.kind.value,
                stored_revision=stored_revision,
                own_revision=self.revision,
                standing=guarded.standing.value,
            )

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
        # A log that leaves out info (log_level: warning) is not handed the fields of
        # thousands of events only to drop them.
        enabled = getattr(self.log, "is_enabled_for", None)
        infos = enabled is None or enabled(logging.INFO)
        for change in plan.changes:
            if change.kind is reconcile.ChangeKind.RESTAMP:
                continue
            if change.kind is not reconcile.ChangeKind.REJECT and not infos:
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
        """Get ready for the first edit: the job files' validator compiled (a start that
        found every file unchanged read none), before the runner says it is ready. In a
        thread after READY it took the processor from the loop just when an edit is
        likeliest (a deploy saves files as the runner restarts): the first edit after
        start waited 20-40 ms for it, the others 1-5 ms; here it adds ~17 ms to a start."""
        schemas.fast_validator(spec.SCHEMA)

    def _reconcile_batch(self, paths: set[Path]) -> None:
        self.paths(paths)

    def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None


Held = str | tuple[str, str]


def held(source: str, entry_id: str, digest: str) -> Held:
    """What a checkout keeps of the definition a job file holds: its digest, with its id
    only when that is not the file's default (its name without the suffix). A runner of
    10,000 entries keeps one for each: a pair of strings per file was 1.2 MiB more."""
    name = source.rpartition("/")[2]
    return digest if name.rpartition(".")[0] == entry_id else (entry_id, digest)


@contextlib.contextmanager
def _collector_paused(paused: bool) -> Iterator[None]:
    """No cyclic garbage collection while many files are reconciled (a full reconcile,
    a big batch): what the read, the diff and the commit build lives on (specs,
    entries, rows) or is freed by its reference count, so the collector's passes over
    it find nothing, and a full one over 10,000 files' specs takes a large share of the
    reconcile. After it, what it left is put in the oldest generation (`gc.freeze` then
    `gc.unfreeze`), as its passes would have moved it there: full collections still
    look at it, the young ones need not (their first pass over 10,000 files' objects
    took ~70 ms)."""
    if not paused or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.unfreeze()
        gc.enable()


_EVENTS = {
    reconcile.ChangeKind.ADD: "entry_added",
    reconcile.ChangeKind.CHANGE: "entry_changed",
    reconcile.ChangeKind.REMOVE: "entry_removed",
    reconcile.ChangeKind.REJECT: "job_file_rejected",
    reconcile.ChangeKind.ACCEPT: "job_file_accepted",
    reconcile.ChangeKind.MOVE: "entry_changed",
}
_REDEFINED = (reconcile.ChangeKind.ADD, reconcile.ChangeKind.CHANGE)


def _of_revision(result: reconcile.FileResult, own: str) -> reconcile.FileResult:
    if result.spec is None:
        return result
    return dataclasses.replace(result, spec=dataclasses.replace(result.spec, revision=own))


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
