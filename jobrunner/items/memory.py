"""MemoryItems: the reference ItemStore, kept in dictionaries (unit tests, MemoryStore)."""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Iterable, Iterator
from datetime import datetime

from jobrunner import model as state
from jobrunner import store
from jobrunner.items import core, model
from jobrunner.items.model import Item, ItemStatus


@dataclasses.dataclass
class _Tables:
    queues: dict[tuple[str, str], model.Queue] = dataclasses.field(default_factory=dict)
    items: dict[int, Item] = dataclasses.field(default_factory=dict)
    keys: dict[tuple[str, str, str], int] = dataclasses.field(default_factory=dict)
    failures: list[model.Failure] = dataclasses.field(default_factory=list)
    counts: dict[tuple[str, str, str], model.RunCount] = dataclasses.field(default_factory=dict)
    last_number: int = 0

    def copy(self) -> _Tables:
        return _Tables(
            dict(self.queues),
            dict(self.items),
            dict(self.keys),
            list(self.failures),
            dict(self.counts),
            self.last_number,
        )


class MemoryItems:
    def __init__(self, owners: store.Store | None = None) -> None:
        """`owners`: the state store whose entries and tasks say which runs are current
        (None: every owner is)."""
        self._t = _Tables()
        self._lock = threading.RLock()
        self._owners = owners

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[_MemoryTx]:
        with self._lock:
            before = self._t.copy()
            try:
                yield _MemoryTx(self._t, self._owners)
            except BaseException:
                self._t.__dict__.update(before.__dict__)
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[_MemoryTx]:
        with self._lock:
            yield _MemoryTx(self._t, self._owners)

    def in_use(self, session_ids: Iterable[str]) -> bool:
        ids = set(session_ids)
        with self._lock:
            if any(key[0] in ids for key in self._t.counts):
                return True
            return any(
                i.status is ItemStatus.IN_PROCESS and i.session_id in ids
                for i in self._t.items.values()
            )

    def close(self) -> None:
        pass


class _MemoryTx:
    def __init__(self, t: _Tables, owners: store.Store | None) -> None:
        self.t, self._owners = t, owners

    def owns(self, owner: model.Owner) -> bool:
        if self._owners is None:
            return True
        if owner.task_id:
            row: state.Entry | state.Task | None = self._owners.get_task(owner.task_id)
        else:
            row = self._owners.get_entry(owner.entry_id)
        return (
            row is not None and row.session_id == owner.session_id and (row.version >= owner.fence)
        )

    def get_queue(self, entry_id: str, name: str) -> model.Queue | None:
        return self.t.queues.get((entry_id, name))

    def put_queue(self, queue: model.Queue) -> None:
        self.t.queues[queue.entry_id, queue.name] = queue

    def queues(self, entry_id: str | None = None) -> list[model.Queue]:
        return [q for k, q in sorted(self.t.queues.items()) if entry_id in (None, k[0])]

    def get(self, entry_id: str, queue: str, key: str) -> Item | None:
        number = self.t.keys.get((entry_id, queue, key))
        return None if number is None else self.t.items[number]

    def get_number(self, number: int) -> Item | None:
        return self.t.items.get(number)

    def put(self, item: Item, *, was: Item | None = None) -> Item:
        if item.number == 0:
            ident = (item.entry_id, item.queue, item.key)
            if ident in self.t.keys:
                raise model.ItemError(f"item {item.key!r} exists in queue {item.queue!r}")
            self.t.last_number += 1
            item = dataclasses.replace(item, number=self.t.last_number)
            self.t.keys[ident] = item.number
        self.t.items[item.number] = item
        return item

    def pending(self, entry_id: str, queue: str, limit: int, session_id: str) -> list[Item]:
        found = [
            i
            for _, i in sorted(self.t.items.items())
            if i.entry_id == entry_id and i.queue == queue and core.claimable(i, session_id)
        ]
        return found[:limit]

    def held_by(self, session_ids: Iterable[str]) -> list[Item]:
        ids = set(session_ids)
        return [
            i
            for _, i in sorted(self.t.items.items())
            if i.status is ItemStatus.IN_PROCESS and i.session_id in ids
        ]

    def held_sessions(self) -> set[str]:
        return {
            i.session_id
            for i in self.t.items.values()
            if i.status is ItemStatus.IN_PROCESS and i.session_id
        }

    def items(self, page: model.Page) -> list[Item]:
        found = [
            i
            for _, i in sorted(self.t.items.items())
            if i.entry_id == page.entry_id
            and page.queue in (None, i.queue)
            and page.status in (None, i.status)
            and (not page.keys or i.key in page.keys)
        ]
        return found if page.limit is None else found[: page.limit]

    def status_counts(self, entry_ids: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
        wanted = None if entry_ids is None else set(entry_ids)
        counts: dict[tuple[str, str], int] = {}
        for i in self.t.items.values():
            if wanted is None or i.entry_id in wanted:
                k = (i.entry_id, i.status.value)
                counts[k] = counts.get(k, 0) + 1
        return counts

    def count_pending(self, entry_id: str, queue: str) -> int:
        return sum(
            1
            for i in self.t.items.values()
            if (i.entry_id, i.queue, i.status) == (entry_id, queue, ItemStatus.PENDING)
        )

    def add_failure(self, failure: model.Failure) -> None:
        self.t.failures.append(dataclasses.replace(failure, seq=len(self.t.failures) + 1))

    def failures(
        self, *, session_ids: Iterable[str] = (), item: tuple[str, str, str] | None = None
    ) -> list[model.Failure]:
        ids = set(session_ids)
        return [
            f
            for f in self.t.failures
            if f.session_id in ids or (f.entry_id, f.queue, f.key) == item
        ]

    def get_count(self, session_id: str, entry_id: str, queue: str) -> model.RunCount | None:
        return self.t.counts.get((session_id, entry_id, queue))

    def put_count(self, count: model.RunCount) -> None:
        self.t.counts[count.session_id, count.entry_id, count.queue] = count

    def counts(self, session_ids: Iterable[str]) -> list[model.RunCount]:
        ids = set(session_ids)
        return [c for k, c in sorted(self.t.counts.items()) if k[0] in ids]

    def delete_done(self, entry_id: str, queue: str, before: datetime) -> int:
        gone = [
            i
            for i in self.t.items.values()
            if (i.entry_id, i.queue, i.status) == (entry_id, queue, ItemStatus.DONE)
            and i.done_at is not None
            and i.done_at < before
        ]
        idents = {(i.entry_id, i.queue, i.key) for i in gone}
        for i in gone:
            del self.t.items[i.number]
            del self.t.keys[i.entry_id, i.queue, i.key]
        self.t.failures = [f for f in self.t.failures if (f.entry_id, f.queue, f.key) not in idents]
        return len(gone)

    def delete_counts(self, before: datetime) -> int:
        gone = [
            k for k, c in self.t.counts.items() if c.ended_at is not None and c.ended_at < before
        ]
        for k in gone:
            del self.t.counts[k]
        return len(gone)

    def oldest_done(self) -> list[tuple[str, str, datetime]]:
        oldest: dict[tuple[str, str], datetime] = {}
        for i in self.t.items.values():
            if i.status is ItemStatus.DONE and i.done_at is not None:
                k = (i.entry_id, i.queue)
                oldest[k] = min(oldest.get(k, i.done_at), i.done_at)
        return [(e, q, at) for (e, q), at in sorted(oldest.items())]
