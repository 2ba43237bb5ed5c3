"""PostgresStore: the Store several runners share, in one PostgreSQL database (psycopg 3).

Every write is one transaction with compare-and-set on entry and task versions (as in
the SQLite file), plus a partial unique index that lets a category have one entry in
process across all runners. Each commit announces itself with NOTIFY (the ids of no rows,
only who wrote) so that idle runners wake at once. A connection that drops is opened
again on the next call; a write that fails meanwhile is StoreUnwritable (the runner
retries it with backoff), a store not reachable at open is StoreUnreachable.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg import errors as pg_errors

from jobrunner import lifecycle, model, spec
from jobrunner.store import StoreConflict, StoreUnwritable, pg_nodes, pg_schema
from jobrunner.store import sqlite as rows

CONNECT_TIMEOUT = 5  # seconds
READ_PATIENCE = 10.0  # seconds a read waits for a server that went away to come back
_SESSION_SETTINGS = (
    "SET statement_timeout = '30s'",
    "SET idle_in_transaction_session_timeout = '60s'",
    "SET lock_timeout = '10s'",
)

_ENTRY_COLUMNS = rows._ENTRY_COLUMNS
_VALUE_COLUMNS = rows._VALUE_COLUMNS
_LOG_COLUMNS = rows._LOG_COLUMNS.replace("user,", '"user",')
_TASK_COLUMNS = rows._TASK_COLUMNS.replace(" user,", ' "user",')
_TASK_NAMES = [c.strip() for c in _TASK_COLUMNS.split(",")]


def _marks(count: int) -> str:
    return ", ".join(["%s"] * count)


_UPDATE_ENTRY = (
    "UPDATE entries SET "
    + "".join(f"{c} = %s, " for c in _VALUE_COLUMNS)
    + "version = version + 1 WHERE id = %s AND version = %s"
)
_UPSERT_ENTRY_TASK = (
    f"INSERT INTO tasks ({_TASK_COLUMNS}, rank, seq, version) VALUES ({_marks(15)}, 1) "
    "ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*_TASK_NAMES[1:], "rank", "seq"])
    + ", version = tasks.version + 1"
)
_INSERT_TASK = f"INSERT INTO tasks ({_TASK_COLUMNS}, version) VALUES ({_marks(13)}, 1)"
_UPDATE_TASK = (
    f"UPDATE tasks SET {', '.join(c + ' = %s' for c in _TASK_NAMES[1:])}, "
    "version = version + 1 WHERE id = %s AND version = %s"
)
_INSERT_LOG = f"INSERT INTO log_entries ({_LOG_COLUMNS}) VALUES ({_marks(17)}) RETURNING entry_no"
_UPDATE_LOG = (
    f"UPDATE log_entries SET {', '.join(c.strip() + ' = %s' for c in _LOG_COLUMNS.split(','))}"
    " WHERE entry_no = %s"
)
_INSERT_EVENT = (
    'INSERT INTO session_events (session_id, event, at, "user", runner_id, client_type, '
    f"entry_id, pid, comment) VALUES ({_marks(9)})"
)
_PUT_PAUSE = (
    "INSERT INTO pauses (scope, by_user, at) VALUES (%s, %s, %s) "
    "ON CONFLICT (scope) DO UPDATE SET by_user = excluded.by_user, at = excluded.at"
)


class StoreUnreachable(StoreUnwritable):
    """The PostgreSQL server named by the connection string cannot be reached."""


def describe(dsn: str) -> str:
    """The connection string as messages may show it: user, host, port and database,
    never a password."""
    try:
        parts = conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "postgresql://(a connection string that cannot be read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or ''}"


def channel_of(db: psycopg.Connection[Any]) -> str:
    """The NOTIFY channel of the store in this connection's schema."""
    row = db.execute("SELECT current_schema()").fetchone()
    return f"jobrunner.{row[0] if row else 'public'}"


class PostgresStore(pg_nodes.Nodes):
    def __init__(self, dsn: str, *, create: bool = True) -> None:
        """`create`: make (or migrate) the schema; without it a database with no schema
        yet is left alone (`exists` says so)."""
        self._dsn = dsn
        self._where = describe(dsn)
        self._lock = threading.RLock()
        self._token = uuid.uuid4().hex  # this store's commits, in NOTIFY payloads
        self._unsynced = False
        self._db: psycopg.Connection[Any] | None = None
        self._listener: pg_nodes.Listener | None = None
        try:
            db = self.connect()
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())  # libpq's message spans lines
            raise StoreUnreachable(f"cannot reach the store at {self._where}: {reason}") from None
        self._db = db
        try:
            self.channel = channel_of(db)
            self.exists = pg_schema.exists(db)
            if create:
                with self._transaction() as tx:
                    pg_schema.migrate(tx, self._where)
                self.exists = True
        except BaseException:
            self._drop()
            raise

    def connect(self) -> psycopg.Connection[Any]:
        db = psycopg.connect(
            self._dsn,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT,
            # a server that went silent (its host gone) is noticed within ~10 s
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )
        for statement in _SESSION_SETTINGS:
            db.execute(statement)
        return db

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None or self._db.closed or self._db.broken:
            self._drop()
            try:
                self._db = self.connect()
            except psycopg.OperationalError as exc:
                raise StoreUnwritable(f"{self._where}: {_oneline(exc)}") from None
        return self._db

    def _drop(self) -> None:
        if self._db is not None:
            with contextlib.suppress(psycopg.Error):
                self._db.close()
            self._db = None

    @contextlib.contextmanager
    def _transaction(self, durable: bool = True) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            db = self._connection()
            try:
                with db.transaction():
                    if not durable:
                        db.execute("SET LOCAL synchronous_commit = off")
                    yield db
            except (psycopg.OperationalError, pg_errors.QueryCanceled) as exc:
                if not isinstance(exc, pg_errors.QueryCanceled):
                    self._drop()
                raise StoreUnwritable(f"{self._where}: {_oneline(exc)}") from exc
            if not durable:
                self._unsynced = True

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Rows of one query. A dropped connection is opened again, with backoff for up
        to READ_PATIENCE (a server restarting); then StoreUnwritable."""
        delay, give_up = 0.0, time.monotonic() + READ_PATIENCE
        while True:
            time.sleep(delay)
            with self._lock:
                try:
                    return self._connection().execute(sql, tuple(params)).fetchall()
                except StoreUnwritable:
                    if time.monotonic() >= give_up:
                        raise
                except psycopg.OperationalError as exc:
                    self._drop()
                    if time.monotonic() >= give_up:
                        raise StoreUnwritable(f"{self._where}: {_oneline(exc)}") from exc
            delay = min(max(delay * 2, 0.05), 1.0)

    @property
    def where(self) -> str:
        return self._where

    @property
    def schema_version(self) -> int:
        with self._lock:
            return pg_schema.version(self._connection())

    # --- writes --------------------------------------------------------------------------

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        try:
            with self._transaction(durable) as db:
                numbers = self._write(db, transition)
                db.execute("SELECT pg_notify(%s, %s)", (self.channel, self._token))
        except pg_errors.UniqueViolation as exc:
            raise _conflict(exc) from None
        return numbers

    def _write(self, db: psycopg.Connection[Any], t: model.Transition) -> list[int]:
        for key, version in t.delete:
            _expect(db, "DELETE FROM entries WHERE id = %s AND version = %s", key, version)
            db.execute("DELETE FROM tasks WHERE id = %s", (lifecycle.system_task_id(key),))
        self._insert_entries(db, [e for e in t.put if e.version == 0])
        for entry in t.put:
            if entry.version:
                self._update_entry(db, entry)
        numbers = [_one(db.execute(_INSERT_LOG, rows._log_row(g))) for g in t.log_insert]
        for g in t.log_update:
            if db.execute(_UPDATE_LOG, (*rows._log_row(g), g.entry_no)).rowcount != 1:
                raise StoreConflict(f"log entry {g.entry_no} does not exist")
        if t.events:
            db.cursor().executemany(_INSERT_EVENT, [_event_row(e) for e in t.events])
        self._write_tasks(db, t)
        return numbers

    def _write_tasks(self, db: psycopg.Connection[Any], t: model.Transition) -> None:
        """The transition's own tasks and pauses (not those that follow entries)."""
        for key, version in t.task_delete:
            _expect(db, "DELETE FROM tasks WHERE id = %s AND version = %s", key, version)
        for task in t.task_put:
            self._put_task(db, task)
        for category in t.pause_delete:
            db.execute("DELETE FROM pauses WHERE scope = %s", (rows._scope(category),))
        for p in t.pause_put:
            db.execute(_PUT_PAUSE, (rows._scope(p.category), p.by, rows._us(p.at)))

    def _insert_entries(self, db: psycopg.Connection[Any], entries: list[model.Entry]) -> None:
        if not entries:
            return
        ids = [e.id for e in entries]
        taken = db.execute("SELECT id FROM entries WHERE id = ANY(%s) LIMIT 1", (ids,))
        found = taken.fetchone()
        if found is not None:
            raise StoreConflict(f"entry {found[0]!r} already exists")
        # Entry numbers are never reused, also after deletes (BC: AutoIncrement).
        last = _one(
            db.execute(
                "UPDATE counters SET value = value + %s WHERE name = 'entry_no' RETURNING value",
                (len(entries),),
            )
        )
        new, tasks, no_tasks = [], [], []
        for number, e in enumerate(entries, last - len(entries) + 1):
            spec.remember(e.spec)
            task = lifecycle.platform_task(e)
            new.append((e.id, number, *rows._entry_values(e, task)))
            if task is None:
                no_tasks.append((lifecycle.system_task_id(e.id),))
            else:
                tasks.append(rows._entry_task_row(task, e.spec.priority.rank, number))
        cur = db.cursor()
        cur.executemany("DELETE FROM tasks WHERE id = %s", no_tasks)
        cur.executemany(_UPSERT_ENTRY_TASK, tasks)
        cur.executemany(f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES ({_marks(28)}, 1)", new)

    def _update_entry(self, db: psycopg.Connection[Any], e: model.Entry) -> None:
        spec.remember(e.spec)
        task = lifecycle.platform_task(e)
        values = rows._entry_values(e, task)
        if db.execute(_UPDATE_ENTRY, (*values, e.id, e.version)).rowcount != 1:
            raise StoreConflict(f"entry {e.id!r} changed since it was read")
        if task is None:  # the task backing an entry follows the entry
            db.execute("DELETE FROM tasks WHERE id = %s", (lifecycle.system_task_id(e.id),))
        else:
            row = rows._entry_task_row(task, e.spec.priority.rank, e.entry_no)
            db.execute(_UPSERT_ENTRY_TASK, row)

    def _put_task(self, db: psycopg.Connection[Any], t: model.Task) -> None:
        values = rows._task_values(t)
        if t.version == 0:
            if db.execute("SELECT 1 FROM tasks WHERE id = %s", (t.id,)).fetchone():
                raise StoreConflict(f"task {t.id!r} already exists")
            db.execute(_INSERT_TASK, (t.id, *values))
        elif db.execute(_UPDATE_TASK, (*values, t.id, t.version)).rowcount != 1:
            raise StoreConflict(f"task {t.id!r} changed since it was read")

    def sync(self) -> None:
        if not self._unsynced:
            return
        with self._transaction() as db:  # a synchronous commit flushes the WAL up to it
            db.execute("SELECT txid_current()")
        self._unsynced = False

    def probe(self) -> None:
        with self._transaction() as db:
            db.execute("UPDATE counters SET value = value WHERE name = 'entry_no'")

    def check_alive(self) -> None:
        return None  # a database is not replaced under its connections as a file can be

    def upkeep(self) -> bool:
        return False  # the server vacuums and checkpoints by itself

    def close(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        with self._lock:
            self._drop()

    def watch(self, wake: Callable[[], None], lost: Callable[[str], None]) -> None:
        """Call `wake` when another store commits (and after the listener reconnects,
        to catch up); `lost` with the error when the listener's connection drops."""
        if self._listener is None:
            self._listener = pg_nodes.Listener(self, wake, lost)


def _conflict(exc: pg_errors.UniqueViolation) -> StoreConflict:
    name = exc.diag.constraint_name or ""
    if name == "entries_category_running":
        detail = exc.diag.message_detail or ""
        return StoreConflict(f"another entry of its category is in process ({detail})")
    return StoreConflict(f"a row already exists ({name})")


def _expect(db: psycopg.Connection[Any], sql: str, key: str, version: int) -> None:
    if db.execute(sql, (key, version)).rowcount != 1:
        kind = "entry" if "entries" in sql else "task"
        raise StoreConflict(f"{kind} {key!r} changed since it was read")


def _one(cur: psycopg.Cursor[Any]) -> int:
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def _event_row(e: model.SessionEvent) -> tuple[Any, ...]:
    return (
        e.session_id,
        e.event,
        rows._us(e.at),
        e.user,
        e.runner_id,
        e.client_type.value,
        e.entry_id,
        e.pid,
        e.comment,
    )


def read_since(value: datetime | None) -> int:
    us = rows._us(value)
    return -(2**62) if us is None else us


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
