"""MemoryStore: the reference Store, kept in dictionaries (for unit tests)."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner import model, store
from jobrunner.store import StoreConflict, entrytask

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class MemoryStore:
    def __init__(self) -> None:
        self._entries: dict[str, model.Entry] = {}
        self._log: dict[int, model.LogEntry] = {}
        self._events: list[model.SessionEvent] = []
        self._tasks: dict[str, model.Task] = {}
        self._pauses: dict[str | None, model.Pause] = {}
        self._next_entry_no = 1
        self._next_log_no = 1
        self._revision: str | None = None
        self._lock = threading.Lock()

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        with self._lock:
            self._check(transition)
            return self._apply(transition)

    def _check(self, t: model.Transition) -> None:
        if t.revision is not None and t.revision.expected != self._revision:
            raise StoreConflict("the store's revision of the job files changed since it was read")
        _check_versions("entry", self._entries, [(e.id, e.version) for e in t.put], t.delete)
        _check_versions("task", self._tasks, [(k.id, k.version) for k in t.task_put], t.task_delete)
        for log in t.log_update:
            if log.entry_no not in self._log:
                raise StoreConflict(f"log entry {log.entry_no} does not exist")

    def _apply(self, t: model.Transition) -> list[int]:
        if t.revision is not None:
            self._revision = t.revision.to
        for entry_id, _ in t.delete:
            del self._entries[entry_id]
            self._tasks.pop(entrytask.removed(entry_id), None)
        for entry in t.put:
            entry_no = entry.entry_no
            if entry.version == 0:
                entry_no, self._next_entry_no = self._next_entry_no, self._next_entry_no + 1
            backing = entrytask.of(entry, entry_no)
            self._entries[entry.id] = dataclasses.replace(
                entry,
                version=entry.version + 1,
                entry_no=entry_no,
                system_task_id=backing.task_id if backing.task else None,
            )
            self._put_entry_task(backing)
        numbers = []
        for log in t.log_insert:
            numbers.append(self._next_log_no)
            self._log[self._next_log_no] = dataclasses.replace(log, entry_no=self._next_log_no)
            self._next_log_no += 1
        for log in t.log_update:
            self._log[log.entry_no] = log
        for event in t.events:
            self._events.append(dataclasses.replace(event, seq=len(self._events) + 1))
        for task_id, _ in t.task_delete:
            del self._tasks[task_id]
        for task in t.task_put:
            self._tasks[task.id] = dataclasses.replace(task, version=task.version + 1)
        self._apply_pauses(t)
        return numbers

    def _apply_pauses(self, t: model.Transition) -> None:
        for category in t.pause_delete:
            self._pauses.pop(category, None)
        for pause in t.pause_put:
            self._pauses[pause.category] = pause

    def _put_entry_task(self, backing: entrytask.EntryTask) -> None:
        if backing.task is None:
            self._tasks.pop(backing.task_id, None)
            return
        old = self._tasks.get(backing.task_id)
        version = (old.version if old else 0) + 1
        self._tasks[backing.task_id] = dataclasses.replace(backing.task, version=version)

    def pauses(self) -> list[model.Pause]:
        return sorted(self._pauses.values(), key=lambda p: p.category or "")

    def get_entry(self, entry_id: str) -> model.Entry | None:
        return self._entries.get(entry_id)

    def list_entries(
        self,
        *,
        status: model.EntryStatus | None = None,
        category: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[model.Entry]:
        found = [
            e
            for _, e in sorted(self._entries.items())
            if (status is None or e.status is status)
            and (category is None or e.spec.category == category)
        ]
        return found[offset : None if limit is None else offset + limit]

    def entry_states(self) -> list[store.EntryState]:
        return [
            store.EntryState(
                id=e.id,
                status=e.status,
                category=e.spec.category,
                earliest_start=e.earliest_start,
                rejected=bool(e.rejected),
            )
            for _, e in sorted(self._entries.items())
        ]

    def entry_histories(self) -> dict[str, model.History | None]:
        return {entry_id: e.spec.history for entry_id, e in sorted(self._entries.items())}

    def running_sessions(self) -> set[str]:
        running = {e.session_id for e in self._entries.values() if e.session_id}
        return running | {t.session_id for t in self._tasks.values() if t.session_id}

    def entries_by_source(self, sources: Iterable[str]) -> list[model.Entry]:
        wanted = set(sources)
        return [e for _, e in sorted(self._entries.items()) if e.spec.source in wanted]

    def entries_by_id(self, entry_ids: Iterable[str]) -> dict[str, model.Entry]:
        entries = self._entries
        return {i: entries[i] for i in entry_ids if i in entries}

    def sources(self) -> dict[str, store.Source]:
        return {
            e.spec.source: store.Source(e.spec.stamp, e.id, e.spec.digest)
            for e in self._entries.values()
        }

    def revision(self) -> str | None:
        return self._revision

    def waiting_entries(self, category: str) -> list[model.Entry]:
        waiting = [
            e
            for e in self._entries.values()
            if e.status is model.EntryStatus.WAITING and e.spec.category == category
        ]
        return sorted(waiting, key=lambda e: (e.spec.priority.rank, e.entry_no))

    def get_log(self, entry_no: int) -> model.LogEntry | None:
        return self._log.get(entry_no)

    def list_log(
        self,
        *,
        entry_id: str | None = None,
        status: model.LogStatus | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.LogEntry]:
        rows = [
            row
            for _, row in sorted(self._log.items(), reverse=True)
            if (entry_id is None or row.entry_id == entry_id)
            and (status is None or row.status is status)
            and (since is None or row.start_at >= since)
        ]
        return rows[:limit] if limit is not None else rows

    def list_sessions(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[model.SessionEvent]:
        rows = [e for e in reversed(self._events) if since is None or e.at >= since]
        return rows[:limit] if limit is not None else rows

    def get_task(self, task_id: str) -> model.Task | None:
        return self._tasks.get(task_id)

    def due_tasks(self, now: datetime, limit: int) -> list[model.Task]:
        def order(t: model.Task) -> tuple[Any, ...]:
            entry = self._entries.get(t.entry_id or "")
            is_entry = entry is not None and entry.system_task_id == t.id
            return (
                t.not_before or _EPOCH,
                entry.spec.priority.rank if is_entry and entry else 2000,
                entry.entry_no if is_entry and entry else 0,
                t.created_at or _EPOCH,
                t.id,
            )

        due = [
            t
            for t in self._tasks.values()
            if t.ready and t.session_id is None and (t.not_before is None or t.not_before <= now)
        ]
        return sorted(due, key=order)[:limit]

    def next_task_due(self) -> datetime | None:
        times = [
            t.not_before or _EPOCH for t in self._tasks.values() if t.ready and t.session_id is None
        ]
        return min(times, default=None)

    def list_tasks(self) -> list[model.Task]:
        return sorted(
            self._tasks.values(),
            key=lambda t: (t.created_at.timestamp() if t.created_at else 0.0, t.id),
        )

    def prune(self, before: datetime, *, failed_before: datetime | None = None) -> int:
        failed = before if failed_before is None else failed_before
        with self._lock:
            old_logs = [
                no
                for no, row in self._log.items()
                if row.status is not model.LogStatus.IN_PROCESS
                and row.end_at is not None
                and row.end_at < (failed if row.status is model.LogStatus.ERROR else before)
            ]
            for no in old_logs:
                del self._log[no]
            kept = [e for e in self._events if e.at >= before]
            removed = len(old_logs) + len(self._events) - len(kept)
            self._events = kept
            return removed

    def trim_log(
        self,
        entry_id: str,
        status: model.LogStatus,
        *,
        keep: int | None = None,
        before: datetime | None = None,
    ) -> int:
        if status is model.LogStatus.IN_PROCESS:
            return 0
        with self._lock:
            ended = [
                no
                for no, row in sorted(self._log.items(), reverse=True)
                if row.entry_id == entry_id and row.status is status and row.end_at is not None
            ]
            going = [
                no
                for n, no in enumerate(ended)
                if (keep is not None and n >= keep)
                or (before is not None and (self._log[no].end_at or before) < before)
            ]
            for no in going:
                del self._log[no]
            return len(going)

    def log_stats(
        self, *, after: int = 0, bounds: Sequence[timedelta] = ()
    ) -> list[store.LogStats]:
        groups: dict[tuple[str, model.LogStatus, int], list[model.LogEntry]] = {}
        with self._lock:
            for no, row in self._log.items():
                if no > after:
                    alone = no if row.status is model.LogStatus.IN_PROCESS else 0
                    groups.setdefault((row.entry_id, row.status, alone), []).append(row)
        return [_stats(found, bounds) for found in groups.values()]

    def log_ends(self) -> dict[tuple[str, model.LogStatus], datetime]:
        ends: dict[tuple[str, model.LogStatus], datetime] = {}
        with self._lock:
            for row in self._log.values():
                if row.status is model.LogStatus.IN_PROCESS or row.end_at is None:
                    continue
                key = (row.entry_id, row.status)
                if key not in ends or row.end_at < ends[key]:
                    ends[key] = row.end_at
        return ends

    def sync(self) -> None:
        pass

    @property
    def where(self) -> str:
        return "memory"

    def probe(self) -> None:
        pass

    def check_alive(self) -> None:
        pass

    def upkeep(self) -> bool:
        return False

    def close(self) -> None:
        pass


def _check_versions(
    kind: str,
    rows: dict[str, Any],
    puts: list[tuple[str, int]],
    deletes: tuple[tuple[str, int], ...],
) -> None:
    for key, version in puts:
        stored = rows.get(key)
        if (stored.version if stored else 0) != version:
            raise StoreConflict(f"{kind} {key!r} changed since it was read")
    for key, version in deletes:
        stored = rows.get(key)
        if stored is None or stored.version != version:
            raise StoreConflict(f"{kind} {key!r} changed since it was read")


def _stats(found: list[model.LogEntry], bounds: Sequence[timedelta]) -> store.LogStats:
    took = [row.end_at - row.start_at for row in found if row.end_at is not None]
    ends = [row.end_at for row in found if row.end_at is not None]
    return store.LogStats(
        entry_id=found[0].entry_id,
        status=found[0].status,
        count=len(found),
        last_no=max(row.entry_no for row in found),
        last_end=max(ends, default=None),
        ended=len(took),
        took=sum(took, timedelta()),
        within=tuple(sum(1 for t in took if t <= bound) for bound in bounds),
    )
