"""SqlStore: the Store protocol over any SQL database, for a subclass that brings the
connection (its transactions and reads) and a Dialect."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from jobrunner import model, store
from jobrunner.store import codec
from jobrunner.store.sql import queries, rows, summary, writes
from jobrunner.store.sql.dialect import Connection, Dialect

ITEM_TABLES = ("item_queues", "items", "item_failures", "item_runs")
"""The work items' tables (jobrunner/items), the same columns in every SQL store."""
_LONG_AGO = -(2**62)  # microseconds: before any instant stored


class SqlStore:
    """What every SQL store shares. A subclass provides `_transaction` (a connection in
    a transaction that commits when the block ends, rolls back when it raises; with
    `durable` False, or True, a commit that may wait for a later sync, or must not) and
    `_reading` (a connection to read on), and may hook `_committed`. Commits and the
    store's memory of its writes are serialized by `_lock`."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._q = dialect.queries
        self._lock = threading.RLock()
        self._memo = writes.Memo()

    def _transaction(
        self, *, durable: bool | None = None
    ) -> contextlib.AbstractContextManager[Connection]:
        raise NotImplementedError

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        raise NotImplementedError

    def _committed(self, transition: model.Transition) -> None:
        """After `transition` committed (under the lock)."""

    # --- writes ------------------------------------------------------------------------

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        with self._lock:
            with self._transaction(durable=durable) as db:
                numbers = writes.write(db, self.dialect, self._memo, transition)
            self._committed(transition)
            self._memo.settle()
            return numbers

    def prune(self, before: datetime, *, failed_before: datetime | None = None) -> int:
        failed = before if failed_before is None else failed_before
        with self._transaction() as db:
            logs = db.execute(self._q.prune_log, (rows.us(failed), rows.us(before))).rowcount
            events = db.execute(self._q.prune_sessions, (rows.us(before),)).rowcount
        return int(logs + events)

    def trim_log(
        self,
        entry_id: str,
        status: model.LogStatus,
        *,
        keep: int | None = None,
        before: datetime | None = None,
    ) -> int:
        if status is model.LogStatus.IN_PROCESS or (keep is None and before is None):
            return 0
        clauses: list[str] = []
        params: list[Any] = [entry_id, status.value]
        if before is not None:
            clauses.append(self._q.trim_before)
            params.append(rows.us(before))
        if keep is not None:
            clauses.append(self._q.trim_beyond)
            params += [entry_id, status.value, keep]
        sql = f"{self._q.trim_log} AND ({' OR '.join(clauses)})"
        with self._transaction() as db:
            return int(db.execute(sql, params).rowcount)

    def probe(self) -> None:
        with self._transaction() as db:
            db.execute(self._q.probe)

    # --- reads -------------------------------------------------------------------------

    def _entries(self, sql: str, params: tuple[Any, ...]) -> list[model.Entry]:
        with self._reading() as db:
            cursor = db.execute(sql, params)
            found = cursor.fetchall()
            reader = rows.entry_reader(self.dialect.shape(cursor))
            self._memo.read(found, reader)
        return list(map(reader.entry, found))

    def _read(
        self, sql: str, params: tuple[Any, ...], reader: Callable[[rows.Description], rows.Reader]
    ) -> list[Any]:
        with self._reading() as db:
            cursor = db.execute(sql, params)
            return rows.read(cursor, self.dialect.shape(cursor), reader)

    def table_rows(self, table: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        """The column names and every row, as stored, of one of the work items' tables
        (what `migrate-store` copies column for column)."""
        if table not in ITEM_TABLES:
            raise ValueError(f"not a work items table: {table}")
        with self._reading() as db:
            cursor = db.execute(f"SELECT * FROM {table}")
            found = [tuple(row) for row in cursor.fetchall()]
            return [column[0] for column in cursor.description], found

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
        with self._reading() as db:
            return db.execute(sql, params).fetchone()

    def get_entry(self, entry_id: str) -> model.Entry | None:
        found = self._entries(self._q.get_entry, (entry_id,))
        return found[0] if found else None

    def list_entries(
        self,
        *,
        status: model.EntryStatus | None = None,
        category: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[model.Entry]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append(self._q.entries_of_status)
            params.append(status.value)
        if category is not None:
            clauses.append(self._q.entries_of_category)
            params.append(category)
        tail = [self._q.entries_order]
        if limit is not None:
            tail.append(self._q.page)
            params += [int(limit), int(offset)]
        found = self._entries(queries.filtered(self._q.entries, clauses, *tail), tuple(params))
        return found if limit is not None or not offset else found[offset:]

    def entry_states(self) -> list[store.EntryState]:
        return self._read(self._q.entry_states, (), summary.state_reader)

    def entry_histories(self) -> dict[str, model.History | None]:
        with self._reading() as db:
            found = db.execute(self._q.entry_definitions).fetchall()
        return {entry_id: codec.history(definition) for entry_id, definition in found}

    def running_sessions(self) -> set[str]:
        with self._reading() as db:
            return {session for (session,) in db.execute(self._q.running_sessions).fetchall()}

    def entries_by_source(self, sources: Iterable[str]) -> list[model.Entry]:
        wanted = sorted(set(sources))
        if not wanted:
            return []
        return self._entries(self._q.entries_by_source, (self.dialect.many(wanted),))

    def entries_by_id(self, entry_ids: Iterable[str]) -> dict[str, model.Entry]:
        wanted = sorted(set(entry_ids))
        if not wanted:
            return {}
        found = self._entries(self._q.entries_by_id, (self.dialect.many(wanted),))
        return {e.id: e for e in found}

    def sources(self) -> dict[str, store.Source]:
        with self._reading() as db:
            found = db.execute(self._q.sources).fetchall()
        made = store.Source._make
        return {row[0]: made(row[1:]) for row in found}

    def revision(self) -> str | None:
        return self._one(self._q.store_revision)[0] or None

    def waiting_entries(self, category: str) -> list[model.Entry]:
        return self._entries(self._q.waiting_entries, (category,))

    def get_log(self, entry_no: int) -> model.LogEntry | None:
        found = self._read(self._q.get_log, (entry_no,), rows.log_reader)
        return found[0] if found else None

    def list_log(
        self,
        *,
        entry_id: str | None = None,
        status: model.LogStatus | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.LogEntry]:
        q = self._q
        filters = [
            (q.log_of_entry, entry_id),
            (q.log_of_status, None if status is None else status.value),
            (q.log_since, rows.us(since)),
        ]
        clauses = [clause for clause, value in filters if value is not None]
        params = [value for _, value in filters if value is not None]
        tail = [q.log_order] if limit is None else [q.log_order, q.limit]
        sql = queries.filtered(q.log, clauses, *tail)
        bounds = () if limit is None else (int(limit),)
        return self._read(sql, (*params, *bounds), rows.log_reader)

    def list_sessions(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[model.SessionEvent]:
        at = rows.us(since) if since else _LONG_AGO
        if limit is None:
            return self._read(self._q.sessions, (at,), rows.event_reader)
        sql = f"{self._q.sessions} {self._q.limit}"
        return self._read(sql, (at, int(limit)), rows.event_reader)

    def get_task(self, task_id: str) -> model.Task | None:
        found = self._read(self._q.get_task, (task_id,), rows.task_reader)
        return found[0] if found else None

    def list_tasks(self) -> list[model.Task]:
        return self._read(self._q.list_tasks, (), rows.task_reader)

    def due_tasks(self, now: datetime, limit: int) -> list[model.Task]:
        return self._read(self._q.due_tasks, (rows.us(now), limit), rows.task_reader)

    def next_task_due(self) -> datetime | None:
        return rows.dt(self._one(self._q.next_task_due)[0])

    def pauses(self) -> list[model.Pause]:
        return self._read(self._q.pauses, (), rows.pause_reader)

    def log_stats(
        self, *, after: int = 0, bounds: Sequence[timedelta] = ()
    ) -> list[store.LogStats]:
        q = self._q
        sql = q.log_stats + q.log_within * len(bounds) + q.log_stats_tail
        params = (*(rows.span_us(b) for b in bounds), int(after))
        return self._read(sql, params, summary.stats_reader)

    def log_ends(self) -> dict[tuple[str, model.LogStatus], datetime]:
        with self._reading() as db:
            found = db.execute(self._q.log_ends).fetchall()
        ends: dict[tuple[str, model.LogStatus], datetime] = {}
        for entry_id, status, end in found:
            at = rows.dt(end)
            if at is not None:
                ends[(entry_id, model.LogStatus(status))] = at
        return ends


class Locked:
    """A single connection, read under the store's lock (`with` it as often as wanted:
    one object, no allocation per read)."""

    __slots__ = ("_db", "_lock")

    def __init__(self, lock: threading.RLock, db: Connection) -> None:
        self._lock, self._db = lock, db

    def __enter__(self) -> Connection:
        self._lock.acquire()
        return self._db

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
