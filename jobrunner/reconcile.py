"""Reconcile: job files against stored entries. `diff` is pure and returns a Plan of
changes with reasons; `apply` commits a plan as one transition (the only effect).

Rules: a new file adds an entry (enqueued); a changed file redefines it (Ready path,
or on hold); a deleted file removes it (after its run, if one is in process); a file
that stops parsing keeps its entry's last good definition and marks it rejected; an
unchanged definition changes nothing. Runtime state is never overwritten otherwise.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from jobrunner import errors, lifecycle, model


@model.pickled_as_tuple
@dataclass(frozen=True, kw_only=True, slots=True)
class FileResult:
    """One job file read: its spec, or the problems that rejected it (or deleted=True)."""

    path: str
    spec: model.JobSpec | None = None
    problems: tuple[model.Problem, ...] = ()
    deleted: bool = False


class ChangeKind(enum.StrEnum):
    """What a change does to an entry (the value is what `plan --json` and the log show)."""

    ADD = "add"
    CHANGE = "change"
    REMOVE = "remove"
    REJECT = "reject"
    ACCEPT = "accept"  # a rejected file parses again, with the stored definition
    MOVE = "move"  # the same definition, from another file
    RESTAMP = "restamp"  # the same definition in a touched file: only its stamp is written


CHANGING = frozenset(
    {ChangeKind.ADD, ChangeKind.CHANGE, ChangeKind.REMOVE, ChangeKind.MOVE, ChangeKind.ACCEPT}
)
"""The kinds a reconcile writes for (a reject marks its entry; a restamp only its stamp)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Change:
    """One decision of a reconcile about one file or entry."""

    kind: ChangeKind
    entry_id: str | None
    path: str
    before: model.Entry | None = None
    after: model.Entry | None = None
    keys: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    problems: tuple[model.Problem, ...] = ()

    @property
    def deferred(self) -> bool:
        """A removal that waits for the entry's run in process to end."""
        return self.kind is ChangeKind.REMOVE and self.after is not None


@dataclass(frozen=True, kw_only=True, slots=True)
class Plan:
    changes: tuple[Change, ...]
    unchanged: int
    revision: model.RevisionMove | None = None
    """The store's revision as this plan moves it (`revision.guard`)."""

    def of(self, kind: ChangeKind) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def has_changes(self) -> bool:
        return any(c.kind in CHANGING for c in self.changes)

    def transition(self) -> model.Transition:
        puts = tuple(c.after for c in self.changes if c.after is not None)
        deletes = tuple(
            (c.before.id, c.before.version)
            for c in self.changes
            if c.kind is ChangeKind.REMOVE and c.after is None and c.before is not None
        )
        return model.Transition(
            reason="reconcile", put=puts, delete=deletes, revision=self.revision
        )


def diff(
    results: Sequence[FileResult],
    stored: Mapping[str, model.Entry],
    now: datetime,
    *,
    scope: Iterable[str] | None = None,
) -> Plan:
    """What reconciling `results` against `stored` (by id) does at `now`. With `scope`
    (the paths that changed) only entries from those files can be removed; without it
    the results are the whole folder."""
    by_source = {e.spec.source: e for e in stored.values()}
    in_scope = set(scope) if scope is not None else None
    changes: list[Change] = []
    claimed = _claim_ids(results, stored, in_scope)
    unchanged = 0
    for result in results:
        if result.deleted:
            continue
        if result.spec is None or claimed.get(result.spec.id) != result.path:
            changes.extend(_reject(result, claimed, stored, by_source))
            continue
        change = _compare(result.spec, stored.get(result.spec.id), now)
        if change is None or change.kind is ChangeKind.RESTAMP:
            unchanged += 1
        if change is not None:
            changes.append(change)
    rejected_paths = {c.path for c in changes if c.kind is ChangeKind.REJECT}
    for entry in stored.values():
        source = entry.spec.source
        if entry.id in claimed or source in rejected_paths:
            continue
        if in_scope is not None and source not in in_scope:
            continue
        changes.append(_remove(entry, now))
    return Plan(changes=tuple(changes), unchanged=unchanged)


def _claim_ids(
    results: Sequence[FileResult], stored: Mapping[str, model.Entry], scope: set[str] | None
) -> dict[str, str]:
    # An id stays with the file it is stored from while that file still defines it, or
    # (in a partial reconcile) while that file is outside the scope, i.e. unchanged.
    # Otherwise the first file in path order that defines the id gets it.
    valid = [(r.path, r.spec) for r in results if r.spec is not None]
    claimed: dict[str, str] = {}
    for path, spec in valid:
        entry = stored.get(spec.id)
        if entry is not None and entry.spec.source == path:
            claimed[spec.id] = path
    for path, spec in valid:
        entry = stored.get(spec.id)
        kept_elsewhere = (
            entry is not None
            and scope is not None
            and entry.spec.source != path
            and entry.spec.source not in scope
        )
        if spec.id not in claimed and not kept_elsewhere:
            claimed[spec.id] = path
    return claimed


def _reject(
    result: FileResult,
    claimed: Mapping[str, str],
    stored: Mapping[str, model.Entry],
    by_source: Mapping[str, model.Entry],
) -> list[Change]:
    problems = result.problems
    if result.spec is not None:
        owner = claimed.get(result.spec.id) or stored[result.spec.id].spec.source
        problems = (
            model.Problem(
                file=result.path,
                line=1,
                path="id",
                message=f"id {result.spec.id!r} is already used by {owner}",
            ),
        )
    entry = by_source.get(result.path)
    message = "\n".join(p.format() for p in problems)
    if entry is None or entry.rejected == message:
        entry_id = entry.id if entry else None
        return [
            Change(kind=ChangeKind.REJECT, entry_id=entry_id, path=result.path, problems=problems)
        ]
    marked = dataclasses.replace(entry, rejected=message)
    return [
        Change(
            kind=ChangeKind.REJECT,
            entry_id=entry.id,
            path=result.path,
            before=entry,
            after=marked,
            problems=problems,
        )
    ]


def _compare(spec: model.JobSpec, entry: model.Entry | None, now: datetime) -> Change | None:
    try:
        return _compared(spec, entry, now)
    except errors.RecurrenceError as exc:  # no first run (past the calendar's end)
        problem = model.Problem(file=spec.source, line=1, path="recurrence", message=str(exc))
        own = {spec.source: entry} if entry is not None and entry.spec.source == spec.source else {}
        change = _reject(FileResult(path=spec.source, problems=(problem,)), {}, {}, own)[0]
        return dataclasses.replace(change, entry_id=spec.id)


def _compared(spec: model.JobSpec, entry: model.Entry | None, now: datetime) -> Change | None:
    if entry is None:
        return Change(
            kind=ChangeKind.ADD,
            entry_id=spec.id,
            path=spec.source,
            after=lifecycle.new_entry(spec, now),
        )
    if entry.spec.digest == spec.digest:
        if entry.spec.source == spec.source and not entry.rejected:
            # touched, not changed; or read from another revision (in the store's order:
            # `revision.guard` lets only a checkout not older write it)
            if (
                spec.stamp and spec.stamp != entry.spec.stamp
            ) or spec.revision != entry.spec.revision:
                return Change(
                    kind=ChangeKind.RESTAMP,
                    entry_id=spec.id,
                    path=spec.source,
                    before=entry,
                    after=dataclasses.replace(entry, spec=spec),
                )
            return None
        kind = ChangeKind.ACCEPT if entry.rejected else ChangeKind.MOVE
        after = dataclasses.replace(entry, spec=spec, rejected="")
        keys = {"source": (entry.spec.source, spec.source)} if kind is ChangeKind.MOVE else {}
        return Change(
            kind=kind, entry_id=spec.id, path=spec.source, before=entry, after=after, keys=keys
        )
    return Change(
        kind=ChangeKind.CHANGE,
        entry_id=spec.id,
        path=spec.source,
        before=entry,
        after=lifecycle.redefine(entry, spec, now),
        keys=changed_keys(entry.spec.raw, spec.raw),
    )


def _remove(entry: model.Entry, now: datetime) -> Change:
    if entry.status is model.EntryStatus.IN_PROCESS:
        after = dataclasses.replace(entry, remove_after_run=True, updated_at=now)
        return Change(
            kind=ChangeKind.REMOVE,
            entry_id=entry.id,
            path=entry.spec.source,
            before=entry,
            after=after,
        )
    return Change(kind=ChangeKind.REMOVE, entry_id=entry.id, path=entry.spec.source, before=entry)


def changed_keys(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Dotted keys whose values differ between two definitions: key -> (old, new)."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    return {
        k: (flat_old.get(k), flat_new.get(k))
        for k in sorted(flat_old.keys() | flat_new.keys())
        if flat_old.get(k) != flat_new.get(k)
    }


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def apply(plan: Plan, store: Any, *, durable: bool = True) -> None:
    """Commit a plan as one transition (raises StoreConflict if an entry, or the store's
    revision, moved on)."""
    transition = plan.transition()
    move = transition.revision
    if transition.put or transition.delete or (move is not None and move.expected != move.to):
        store.commit(transition, durable=durable)
