"""SqliteItems: work items in the state file (their tables are made by the state store's
migrations, `jobrunner.store.sql.migrations`), on a connection of their own.

Every write is one `BEGIN IMMEDIATE` transaction: SQLite lets one writer at a time into
the file, so two sessions' claims never overlap and never take one item twice (the
PostgreSQL equivalent is `FOR UPDATE SKIP LOCKED` in `pending`). synchronous=FULL: a
committed claim or finish survives a power loss.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner.items import model
from jobrunner.items.model import Item, ItemStatus

BUSY_TIMEOUT_MS = 10_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_ITEM = (
    "number, entry_id, queue, key, status, payload, notes, attempts, started, created_at, "
    "updated_at, claimed_at, done_at, session_id, last_session, error_message, "
    "error_stack, discarded_by"
)
_FAILURE = "entry_id, queue, key, session_id, at, message, attempt, final, seq"
_COUNT = "session_id, entry_id, queue, done, failed, left_pending, ended_at"
_VALUES = tuple(c.strip() for c in _ITEM.split(",")[1:])
_ALL = tuple(range(len(_VALUES)))


@functools.lru_cache(maxsize=64)
def _update_sql(changed: tuple[int, ...]) -> str:
    """The update of an item's columns at these indexes of _VALUES."""
    return (
        "UPDATE items SET " + ", ".join(f"{_VALUES[i]} = ?" for i in changed) + " WHERE number = ?"
    )


def _us(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _US


def _dt(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


def _at(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def _row(i: Item) -> tuple[Any, ...]:
    return (
        i.entry_id,
        i.queue,
        i.key,
        i.status.value,
        i.payload,
        i.notes,
        i.attempts,
        i.started,
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


def _item(r: tuple[Any, ...]) -> Item:
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


def _failure(r: tuple[Any, ...]) -> model.Failure:
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


def _count(r: tuple[Any, ...]) -> model.RunCount:
    return model.RunCount(
        session_id=r[0],
        entry_id=r[1],
        queue=r[2],
        done=r[3],
        failed=r[4],
        left=r[5],
        ended_at=_dt(r[6]),
    )


def _changed(was: Item, values: tuple[Any, ...]) -> tuple[int, ...]:
    return tuple(i for i, (a, b) in enumerate(zip(_row(was), values, strict=True)) if a != b)


def _marks(values: Iterable[Any]) -> tuple[str, list[Any]]:
    listed = list(values)
    return ", ".join("?" * len(listed)), listed


class SqliteItems:
    def __init__(self, path: Path) -> None:
        try:
            self._db = sqlite3.connect(
                f"file:{path}?mode=rw",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
        except sqlite3.OperationalError as exc:
            raise model.ItemError(f"{path}: cannot open the state file: {exc}") from None
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA synchronous = FULL")
        self._full = True
        self._lock = threading.RLock()
        self.path = path

    @contextlib.contextmanager
    def transaction(self, *, durable: bool = True) -> Iterator[_SqliteTx]:
        with self._lock:
            if durable != self._full:
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._full = durable
            with self._begin("BEGIN IMMEDIATE") as tx:
                yield tx

    @contextlib.contextmanager
    def reading(self) -> Iterator[_SqliteTx]:
        with self._lock, self._begin("BEGIN") as tx:
            yield tx

    def in_use(self, session_ids: Iterable[str]) -> bool:
        marks, ids = _marks(session_ids)
        sql = (
            f"SELECT EXISTS (SELECT 1 FROM item_runs WHERE session_id IN ({marks})) OR EXISTS "
            f"(SELECT 1 FROM items WHERE status = 'in_process' AND session_id IN ({marks}))"
        )
        with self._lock:
            try:
                return bool(self._db.execute(sql, ids + ids).fetchone()[0])
            except sqlite3.Error as exc:
                raise model.ItemError(f"{self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _begin(self, begin: str) -> Iterator[_SqliteTx]:
        """One transaction; SQLite's errors become ItemError (disk full, a lock held
        beyond the busy timeout, tables missing)."""
        try:
            self._db.execute(begin)
            try:
                yield _SqliteTx(self._db)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise model.ItemError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()


class _SqliteTx:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def _items(self, where: str, params: Iterable[Any] = ()) -> list[Item]:
        rows = self.db.execute(f"SELECT {_ITEM} FROM items WHERE {where}", tuple(params))
        return [_item(r) for r in rows]

    def get_queue(self, entry_id: str, name: str) -> model.Queue | None:
        row = self.db.execute(
            "SELECT max_attempts, done_retention_us FROM item_queues "
            "WHERE entry_id = ? AND name = ?",
            (entry_id, name),
        ).fetchone()
        if row is None:
            return None
        return model.Queue(
            entry_id=entry_id,
            name=name,
            max_attempts=row[0],
            done_retention=timedelta(microseconds=row[1]),
        )

    def put_queue(self, queue: model.Queue) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO item_queues VALUES (?, ?, ?, ?)",
            (queue.entry_id, queue.name, queue.max_attempts, queue.done_retention // _US),
        )

    def queues(self, entry_id: str | None = None) -> list[model.Queue]:
        rows = self.db.execute(
            "SELECT entry_id, name, max_attempts, done_retention_us FROM item_queues "
            "WHERE ? IS NULL OR entry_id = ? ORDER BY entry_id, name",
            (entry_id, entry_id),
        )
        return [
            model.Queue(
                entry_id=r[0],
                name=r[1],
                max_attempts=r[2],
                done_retention=timedelta(microseconds=r[3]),
            )
            for r in rows
        ]

    def get(self, entry_id: str, queue: str, key: str) -> Item | None:
        found = self._items("entry_id = ? AND queue = ? AND key = ?", (entry_id, queue, key))
        return found[0] if found else None

    def get_number(self, number: int) -> Item | None:
        found = self._items("number = ?", (number,))
        return found[0] if found else None

    def put(self, item: Item, *, was: Item | None = None) -> Item:
        if item.number:
            values = _row(item)
            changed = _ALL if was is None or was.number != item.number else _changed(was, values)
            if changed:  # (an index is rewritten only when a column of it is written)
                params = (*(values[i] for i in changed), item.number)
                self.db.execute(_update_sql(changed), params)
            return item
        try:
            cur = self.db.execute(
                f"INSERT INTO items ({_ITEM.partition(', ')[2]}) VALUES ({', '.join('?' * 17)})",
                _row(item),
            )
        except sqlite3.IntegrityError:
            raise model.ItemError(f"item {item.key!r} exists in queue {item.queue!r}") from None
        return dataclasses.replace(item, number=int(cur.lastrowid or 0))

    def pending(self, entry_id: str, queue: str, limit: int, session_id: str) -> list[Item]:
        return self._items(
            "entry_id = ? AND queue = ? AND status = 'pending' "
            "AND NOT (last_session IS ? AND error_message != '') ORDER BY number LIMIT ?",
            (entry_id, queue, session_id, limit),
        )

    def held_by(self, session_ids: Iterable[str]) -> list[Item]:
        marks, ids = _marks(session_ids)
        return self._items(
            f"status = 'in_process' AND session_id IN ({marks}) ORDER BY number", ids
        )

    def held_sessions(self) -> set[str]:
        rows = self.db.execute("SELECT DISTINCT session_id FROM items WHERE status = 'in_process'")
        return {r[0] for r in rows if r[0]}

    def items(self, page: model.Page) -> list[Item]:
        where, params = ["entry_id = ?"], [page.entry_id]
        if page.queue is not None:
            where.append("queue = ?")
            params.append(page.queue)
        if page.status is not None:
            where.append("status = ?")
            params.append(page.status.value)
        if page.keys:
            marks, keys = _marks(page.keys)
            where.append(f"key IN ({marks})")
            params += keys
        limit = "" if page.limit is None else f" LIMIT {int(page.limit)}"
        return self._items(" AND ".join(where) + " ORDER BY number" + limit, params)

    def status_counts(self, entry_ids: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
        sql = "SELECT entry_id, status, COUNT(*) FROM items"
        params: list[str] = []
        if entry_ids is not None:
            marks, params = _marks(entry_ids)
            sql += f" WHERE entry_id IN ({marks})"
        rows = self.db.execute(sql + " GROUP BY entry_id, status", params)
        return {(r[0], r[1]): r[2] for r in rows}

    def count_pending(self, entry_id: str, queue: str) -> int:
        (n,) = self.db.execute(
            "SELECT COUNT(*) FROM items WHERE entry_id = ? AND queue = ? AND status = 'pending'",
            (entry_id, queue),
        ).fetchone()
        return int(n)

    def add_failure(self, f: model.Failure) -> None:
        self.db.execute(
            f"INSERT INTO item_failures ({_FAILURE.rpartition(', ')[0]}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (f.entry_id, f.queue, f.key, f.session_id, _us(f.at), f.message, f.attempt, f.final),
        )

    def failures(
        self, *, session_ids: Iterable[str] = (), item: tuple[str, str, str] | None = None
    ) -> list[model.Failure]:
        marks, ids = _marks(session_ids)
        ident = item or ("", "", "")
        rows = self.db.execute(
            f"SELECT {_FAILURE} FROM item_failures WHERE session_id IN ({marks}) "
            "OR (entry_id = ? AND queue = ? AND key = ?) ORDER BY seq",
            (*ids, *ident),
        )
        return [_failure(r) for r in rows]

    def get_count(self, session_id: str, entry_id: str, queue: str) -> model.RunCount | None:
        row = self.db.execute(
            f"SELECT {_COUNT} FROM item_runs WHERE session_id = ? AND entry_id = ? AND queue = ?",
            (session_id, entry_id, queue),
        ).fetchone()
        return None if row is None else _count(row)

    def put_count(self, c: model.RunCount) -> None:
        self.db.execute(
            "INSERT INTO item_runs VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (session_id, entry_id, queue) DO UPDATE SET done = excluded.done, "
            "failed = excluded.failed, left_pending = excluded.left_pending, "
            "ended_at = excluded.ended_at",
            (c.session_id, c.entry_id, c.queue, c.done, c.failed, c.left, _us(c.ended_at)),
        )

    def counts(self, session_ids: Iterable[str]) -> list[model.RunCount]:
        marks, ids = _marks(session_ids)
        rows = self.db.execute(
            f"SELECT {_COUNT} FROM item_runs WHERE session_id IN ({marks}) "
            "ORDER BY session_id, entry_id, queue",
            ids,
        )
        return [_count(r) for r in rows]

    def delete_done(self, entry_id: str, queue: str, before: datetime) -> int:
        params = (entry_id, queue, _us(before))
        done = "entry_id = ? AND queue = ? AND status = 'done' AND done_at < ?"
        self.db.execute(
            "DELETE FROM item_failures WHERE (entry_id, queue, key) IN "
            f"(SELECT entry_id, queue, key FROM items WHERE {done})",
            params,
        )
        return self.db.execute(f"DELETE FROM items WHERE {done}", params).rowcount

    def delete_counts(self, before: datetime) -> int:
        return self.db.execute("DELETE FROM item_runs WHERE ended_at < ?", (_us(before),)).rowcount

    def oldest_done(self) -> list[tuple[str, str, datetime]]:
        rows = self.db.execute(
            "SELECT entry_id, queue, MIN(done_at) FROM items WHERE status = 'done' "
            "GROUP BY entry_id, queue ORDER BY entry_id, queue"
        )
        return [(r[0], r[1], _at(r[2])) for r in rows]
