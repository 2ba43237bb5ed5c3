"""Work items (`jobrunner.items`) in any SQL store: their rows mapped to the records, and
`SqlItemTx`, the ItemTx of `items.storage` over one transaction of a connection with a
Dialect (its `items` statements). `SqlItems` is the ItemStore that runs on a SqlStore's
own transactions (PostgreSQL); the SQLite file's items keep a connection of their own
(`jobrunner.items.sqlite`) and use the same SqlItemTx.

In a writing transaction every read of rows it may write takes the dialect's row lock
(`lock`; the claim's read skips rows another claim holds), and the check of the owner
row (`owns`) keeps that row as read until the commit (`share`): a runner that recovers
the run waits for the item's write, or the write sees the run recovered.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from jobrunner.items import model
from jobrunner.items.model import Item, ItemStatus
from jobrunner.store import StoreUnwritable
from jobrunner.store.sql import item_queries
from jobrunner.store.sql.base import SqlStore
from jobrunner.store.sql.dialect import Connection, Dialect

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ALL = tuple(range(len(item_queries.ITEM_VALUES)))


def _us(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _US


def _dt(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _at(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def item_values(i: Item) -> tuple[Any, ...]:
    """An item's ITEM_VALUES."""
    return (
        i.entry_id,
        i.queue,
        i.key,
        i.status.value,
        i.payload,
        i.notes,
        i.attempts,
        int(i.started),
        _us(i.created_at),
        _us(i.updated_at),
        _us(i.claimed_at),
        _us(i.done_at),
        i.session_id,
        i.last_session,
        i.error_message,
        i.error_stack,
        i.discarded_by,
    )


def _item(r: Sequence[Any]) -> Item:
    return Item(
        number=r[0],
        entry_id=r[1],
        queue=r[2],
        key=r[3],
        status=ItemStatus(r[4]),
        payload=r[5],
        notes=r[6],
        attempts=r[7],
        started=bool(r[8]),
        created_at=_at(r[9]),
        updated_at=_at(r[10]),
        claimed_at=_dt(r[11]),
        done_at=_dt(r[12]),
        session_id=r[13],
        last_session=r[14],
        error_message=r[15],
        error_stack=r[16],
        discarded_by=r[17],
    )


def _failure(r: Sequence[Any]) -> model.Failure:
    return model.Failure(
        entry_id=r[0],
        queue=r[1],
        key=r[2],
        session_id=r[3],
        at=_at(r[4]),
        message=r[5],
        attempt=r[6],
        final=bool(r[7]),
        seq=r[8],
    )


def _count(r: Sequence[Any]) -> model.RunCount:
    return model.RunCount(
        session_id=r[0],
        entry_id=r[1],
        queue=r[2],
        done=r[3],
        failed=r[4],
        left=r[5],
        ended_at=_dt(r[6]),
    )


def _queue(r: Sequence[Any]) -> model.Queue:
    return model.Queue(
        entry_id=r[0], name=r[1], max_attempts=r[2], done_retention=timedelta(microseconds=r[3])
    )


class SqlItemTx:
    """`writing`: the transaction writes (its reads of rows take the dialect's locks)."""

    def __init__(self, db: Connection, dialect: Dialect, *, writing: bool) -> None:
        self.db, self.dialect, self.q = db, dialect, dialect.items
        self._lock = self.q.lock if writing else ""

    def _items(self, clauses: Sequence[str], params: Sequence[Any], *tail: str) -> list[Item]:
        sql = " ".join([f"{self.q.items} WHERE {' AND '.join(clauses)}", *tail])
        return [_item(r) for r in self.db.execute(sql + self._lock, tuple(params)).fetchall()]

    def owns(self, owner: model.Owner) -> bool:
        q = self.q
        if owner.task_id:
            sql, row = q.owner_task, owner.task_id
        else:
            sql, row = q.owner_entry, owner.entry_id
        found = self.db.execute(sql + q.share, (row, owner.session_id, owner.fence)).fetchone()
        return found is not None

    def get_queue(self, entry_id: str, name: str) -> model.Queue | None:
        row = self.db.execute(self.q.get_queue, (entry_id, name)).fetchone()
        return None if row is None else _queue(row)

    def put_queue(self, queue: model.Queue) -> None:
        values = (queue.entry_id, queue.name, queue.max_attempts, queue.done_retention // _US)
        self.db.execute(self.q.put_queue, values)

    def queues(self, entry_id: str | None = None) -> list[model.Queue]:
        if entry_id is None:
            return [_queue(r) for r in self.db.execute(self.q.queues).fetchall()]
        return [_queue(r) for r in self.db.execute(self.q.queues_of_entry, (entry_id,)).fetchall()]

    def get(self, entry_id: str, queue: str, key: str) -> Item | None:
        found = self._items([self.q.of_key], (entry_id, queue, key))
        return found[0] if found else None

    def get_number(self, number: int) -> Item | None:
        found = self._items([self.q.of_number], (number,))
        return found[0] if found else None

    def put(self, item: Item, *, was: Item | None = None) -> Item:
        values = item_values(item)
        if item.number:
            same = was is not None and was.number == item.number
            changed = _changed(was, values) if same and was is not None else _ALL
            if changed:
                sql = item_queries.update_item(changed, self.q.placeholder)
                self.db.execute(sql, (*(values[i] for i in changed), item.number))
            return item
        row = self.db.execute(self.q.insert_item, values).fetchone()
        if row is None:
            raise model.ItemError(f"item {item.key!r} exists in queue {item.queue!r}")
        return dataclasses.replace(item, number=int(row[0]))

    def pending(self, entry_id: str, queue: str, limit: int, session_id: str) -> list[Item]:
        q = self.q
        sql = f"{q.items} WHERE {q.claimable} {q.by_number} {q.limit}{q.claim_lock}"
        rows = self.db.execute(sql, (entry_id, queue, session_id, limit)).fetchall()
        return [_item(r) for r in rows]

    def held_by(self, session_ids: Iterable[str]) -> list[Item]:
        ids = self.dialect.many(sorted(set(session_ids)))
        return self._items([self.q.held, self.q.of_sessions], (ids,), self.q.by_number)

    def in_use(self, session_ids: Iterable[str]) -> bool:
        """Whether any of these sessions opened a queue or holds an item."""
        ids = self.dialect.many(sorted(set(session_ids)))
        q = self.q
        sql = (
            f"SELECT EXISTS (SELECT 1 FROM item_runs WHERE {q.of_sessions}) OR EXISTS "
            f"(SELECT 1 FROM items WHERE {q.held} AND {q.of_sessions})"
        )
        return bool(self.db.execute(sql, (ids, ids)).fetchone()[0])

    def held_sessions(self) -> set[str]:
        return {r[0] for r in self.db.execute(self.q.held_sessions).fetchall() if r[0]}

    def items(self, page: model.Page) -> list[Item]:
        q = self.q
        filters = [
            (q.of_entry, page.entry_id),
            (q.of_queue, page.queue),
            (q.of_status, None if page.status is None else page.status.value),
            (q.of_keys, self.dialect.many(list(page.keys)) if page.keys else None),
        ]
        clauses = [clause for clause, value in filters if value is not None]
        params = [value for _, value in filters if value is not None]
        if page.limit is None:
            return self._items(clauses, params, q.by_number)
        return self._items(clauses, [*params, int(page.limit)], q.by_number, q.limit)

    def status_counts(self, entry_ids: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
        q = self.q
        params: tuple[Any, ...] = ()
        if entry_ids is None:
            sql = f"{q.status_counts} {q.status_counts_tail}"
        else:
            sql = f"{q.status_counts} WHERE {q.of_entries} {q.status_counts_tail}"
            params = (self.dialect.many(sorted(set(entry_ids))),)
        return {(r[0], r[1]): int(r[2]) for r in self.db.execute(sql, params).fetchall()}

    def count_pending(self, entry_id: str, queue: str) -> int:
        (n,) = self.db.execute(self.q.count_pending, (entry_id, queue)).fetchone()
        return int(n)

    def add_failure(self, f: model.Failure) -> None:
        at = _us(f.at)
        values = (f.entry_id, f.queue, f.key, f.session_id, at, f.message, f.attempt, int(f.final))
        self.db.execute(self.q.add_failure, values)

    def failures(
        self, *, session_ids: Iterable[str] = (), item: tuple[str, str, str] | None = None
    ) -> list[model.Failure]:
        ids = self.dialect.many(sorted(set(session_ids)))
        sql = f"{self.q.failures} {self.q.of_sessions} {self.q.failures_tail}"
        rows = self.db.execute(sql, (ids, *(item or ("", "", "")))).fetchall()
        return [_failure(r) for r in rows]

    def get_count(self, session_id: str, entry_id: str, queue: str) -> model.RunCount | None:
        sql = self.q.get_count + self._lock
        row = self.db.execute(sql, (session_id, entry_id, queue)).fetchone()
        return None if row is None else _count(row)

    def put_count(self, c: model.RunCount) -> None:
        values = (c.session_id, c.entry_id, c.queue, c.done, c.failed, c.left, _us(c.ended_at))
        self.db.execute(self.q.put_count, values)

    def counts(self, session_ids: Iterable[str]) -> list[model.RunCount]:
        ids = self.dialect.many(sorted(set(session_ids)))
        sql = f"{self.q.counts} {self.q.of_sessions} {self.q.counts_tail}"
        return [_count(r) for r in self.db.execute(sql, (ids,)).fetchall()]

    def delete_done(self, entry_id: str, queue: str, before: datetime) -> int:
        params = (entry_id, queue, _us(before))
        self.db.execute(self.q.delete_done_failures, params)
        return int(self.db.execute(self.q.delete_done, params).rowcount)

    def delete_counts(self, before: datetime) -> int:
        return int(self.db.execute(self.q.delete_counts, (_us(before),)).rowcount)

    def oldest_done(self) -> list[tuple[str, str, datetime]]:
        rows = self.db.execute(self.q.oldest_done).fetchall()
        return [(r[0], r[1], _at(r[2])) for r in rows]


def _changed(was: Item, values: tuple[Any, ...]) -> tuple[int, ...]:
    pairs = enumerate(zip(item_values(was), values, strict=True))
    return tuple(i for i, (a, b) in pairs if a != b)


class SqlItems:
    """The items of a SqlStore, on its own connection and transactions (PostgreSQL: the
    store's connection; `close` leaves it to the store)."""

    def __init__(self, st: SqlStore) -> None:
        self._st = st
        self._failed: tuple[type[Exception], ...] = (StoreUnwritable, *st.dialect.driver_error)

    @contextlib.contextmanager
    def _tx(self, durable: bool | None, *, writing: bool) -> Iterator[SqlItemTx]:
        try:
            with self._st._transaction(durable=durable) as db:
                yield SqlItemTx(db, self._st.dialect, writing=writing)
        except self._failed as exc:
            where = getattr(self._st, "where", "the store")
            raise model.ItemError(f"{where}: {' '.join(str(exc).split())}") from exc

    def transaction(self, *, durable: bool = True) -> contextlib.AbstractContextManager[SqlItemTx]:
        return self._tx(durable, writing=True)

    def reading(self) -> contextlib.AbstractContextManager[SqlItemTx]:
        return self._tx(None, writing=False)

    def in_use(self, session_ids: Iterable[str]) -> bool:
        with self.reading() as tx:
            return tx.in_use(session_ids)

    def close(self) -> None:
        return None
