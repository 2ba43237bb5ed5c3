"""PostgresStore: the Store several runners share, in one PostgreSQL database (psycopg 3):
the PostgreSQL dialect of the shared SQL layer (store/sql) and what only it has.

Every write is one transaction with compare-and-set on entry and task versions (the
shared commit), plus a partial unique index that lets a category have one entry in
process across all runners. Each commit announces itself with NOTIFY (only who wrote)
so that idle runners wake at once. A connection that drops is opened again: a read
waits for the server with backoff for up to READ_PATIENCE, a write that fails meanwhile
is StoreUnwritable (the runner retries it with backoff); a server not reachable at open
is StoreUnreachable. The runners' leases and the listener are in pg_nodes, the report
documents kept in the store in pg_documents.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import psycopg
from psycopg import conninfo
from psycopg import errors as pg_errors

from jobrunner import model
from jobrunner.store import StoreConflict, StoreUnwritable, pg_documents, pg_nodes, pg_schema
from jobrunner.store.sql import migrations, writes
from jobrunner.store.sql.base import ITEM_TABLES, SqlStore
from jobrunner.store.sql.dialect import Connection, Dialect
from jobrunner.store.sql.item_queries import ITEM_QUERIES
from jobrunner.store.sql.queries import QUERIES

CONNECT_TIMEOUT = 5  # seconds
READ_PATIENCE = 10.0  # seconds a read waits for a server that went away to come back
IDLE_LIMIT = 2.0
"""Seconds the server lets a transaction of this store sit idle before it ends it (and
the connection). A runner frozen or cut off in the middle of a commit (a renewal of its
lease, a start) would hold its row locks until then, and the runner that recovers its
runs waits for those locks: no longer than the time its lease takes to lapse (LEASE -
RENEW in jobrunner.cluster), it adds nothing to failover. The store's own transactions
never pause that long between two statements; one that does fails as StoreUnwritable
and is committed again."""
_SESSION_SETTINGS = (
    "SET statement_timeout = '30s'",
    f"SET idle_in_transaction_session_timeout = '{round(IDLE_LIMIT * 1000)}ms'",
    "SET lock_timeout = '10s'",
)


def _queries() -> Any:
    """The shared statements in psycopg's style, with PostgreSQL's own orderings: text
    compared byte by byte ("C", as SQLite does) and NULLs first (as SQLite sorts them)."""
    q = QUERIES.styled("%s")
    tasks = q.get_task.removesuffix(" WHERE id = %s")
    entries = q.get_entry.removesuffix(" WHERE id = %s")
    return dataclasses.replace(
        q,
        entries_order='ORDER BY id COLLATE "C"',
        entries_by_source=f'{entries} WHERE source = ANY(%s) ORDER BY id COLLATE "C"',
        entries_by_id=f"{entries} WHERE id = ANY(%s)",
        list_tasks=f'{tasks} ORDER BY created_at NULLS FIRST, id COLLATE "C"',
        due_tasks=(
            f"{tasks} WHERE ready = 1 AND session_id IS NULL AND not_before <= %s "
            'ORDER BY not_before, rank, seq, created_at NULLS FIRST, id COLLATE "C" LIMIT %s'
        ),
        pauses='SELECT scope, by_user, at FROM pauses ORDER BY scope COLLATE "C"',
        insert_log=f"{q.insert_log} RETURNING entry_no",
    )


def _item_queries() -> Any:
    """The work items' statements in psycopg's style: lists bound as arrays, text
    orderings byte by byte, and the row locks that let runners share the tables (a
    claim skips the items another claim holds; the row of a session's run stays as the
    item's write read it until that write commits)."""
    q = ITEM_QUERIES.styled("%s")
    c = 'COLLATE "C"'
    return dataclasses.replace(
        q,
        of_keys="key = ANY(%s)",
        of_sessions="session_id = ANY(%s)",
        of_entries="entry_id = ANY(%s)",
        queues=q.queues.replace("ORDER BY entry_id, name", f"ORDER BY entry_id {c}, name {c}"),
        queues_of_entry=q.queues_of_entry.replace("ORDER BY name", f"ORDER BY name {c}"),
        counts_tail=f"ORDER BY session_id {c}, entry_id {c}, queue {c}",
        oldest_done=q.oldest_done.replace(
            "ORDER BY entry_id, queue", f"ORDER BY entry_id {c}, queue {c}"
        ),
        lock=" FOR UPDATE",
        claim_lock=" FOR UPDATE SKIP LOCKED",
        share=" FOR SHARE",
    )


def _returned(cursor: Any) -> int:
    row = cursor.fetchone()
    return int(row[0])


def _savepoint(db: Any) -> contextlib.AbstractContextManager[Any]:
    cursor: psycopg.Cursor[Any] = db
    return cursor.connection.transaction()


POSTGRES = Dialect(
    name="postgresql",
    migrations=pg_schema.MIGRATIONS,
    version_query="SELECT version FROM jobrunner_schema",
    version_update=lambda version: f"UPDATE jobrunner_schema SET version = {int(version)}",
    unique_violation=(pg_errors.UniqueViolation,),
    queries=_queries(),
    many=list,
    savepoint=_savepoint,
    inserted_id=_returned,
    shape=lambda cursor: tuple((c.name,) for c in cursor.description),
    items=_item_queries(),
    driver_error=(psycopg.Error,),
)


# A transaction that did not commit: its connection dropped or was ended (by the server
# too: an idle transaction past IDLE_LIMIT is an InternalError), or a statement timed out.
_ENDED = (
    psycopg.OperationalError,
    pg_errors.QueryCanceled,
    pg_errors.IdleInTransactionSessionTimeout,
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


class PostgresStore(SqlStore, pg_nodes.Nodes, pg_documents.Documents):
    def __init__(self, dsn: str, *, create: bool = True) -> None:
        """`create`: make (or migrate) the schema; without it a database with no schema
        yet is left alone (`exists` says so)."""
        super().__init__(POSTGRES)
        self._dsn, self._where = dsn, describe(dsn)
        self._token = uuid.uuid4().hex  # this store's commits, in NOTIFY payloads
        self._unsynced = False
        self._db: psycopg.Connection[Any] | None = None
        self._listener: pg_nodes.Listener | None = None
        try:
            self._db = self.connect()
        except psycopg.OperationalError as exc:
            raise StoreUnreachable(
                f"cannot reach the store at {self._where}: {_oneline(exc)}"
            ) from None
        try:
            self.channel = pg_schema.channel(self._db)
            self.exists = pg_schema.exists(self._db)
            if create:
                with self._transaction() as db:
                    pg_schema.prepare(db)
                    migrations.migrate(db, POSTGRES, self._where)
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
    def _transaction(self, *, durable: bool | None = None) -> Iterator[Connection]:
        with self._lock:
            db = self._connection()
            try:
                with db.transaction():
                    cur = db.cursor()
                    if durable is False:
                        cur.execute("SET LOCAL synchronous_commit = off")
                    yield _Batches(cur)
            except _ENDED as exc:
                if not isinstance(exc, pg_errors.QueryCanceled):
                    self._drop()
                raise StoreUnwritable(f"{self._where}: {_oneline(exc)}") from exc
            if durable is False:
                self._unsynced = True

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        return _Patient(self)

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        """The shared commit, with NOTIFY in its transaction (sent when it commits)."""
        return self._commit(transition, durable=durable)

    def commit_migration(
        self,
        transition: model.Transition,
        tables: Mapping[str, tuple[Sequence[str], Sequence[Sequence[Any]]]],
        documents: Sequence[MovedDocument],
    ) -> list[int]:
        """`migrate-store`'s one transaction: `transition` (the entries, the log, ...),
        the rows of `tables` column for column with their numbers (the work items'
        tables; each serial number then goes on from the highest), and the documents,
        each under the number its log entry (`log_at`: its place in
        `transition.log_insert`) is given here."""

        def then(db: Connection, numbers: list[int]) -> None:
            for table, (columns, found) in tables.items():
                if table not in ITEM_TABLES:
                    raise ValueError(f"not a table migrate-store copies: {table}")
                marks = ", ".join(["%s"] * len(columns))
                db.executemany(
                    f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", found
                )
            for table, column in _SERIALS:
                db.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, %s), "
                    f"COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
                    (table, column),
                )
            db.executemany(
                pg_documents.INSERT,
                [
                    pg_documents.row(numbers[d.log_at], d.entry_id, d.at, d.format, d.content)
                    for d in documents
                ],
            )

        return self._commit(transition, durable=True, then=then)

    def _commit(
        self,
        transition: model.Transition,
        *,
        durable: bool,
        then: Callable[[Connection, list[int]], None] | None = None,
    ) -> list[int]:
        with self._lock:
            try:
                with self._transaction(durable=durable) as db:
                    _refuse_taken(db, [e.id for e in transition.put if e.version == 0])
                    numbers = writes.write(db, self.dialect, self._memo, transition)
                    if then is not None:
                        then(db, numbers)
                    db.execute("SELECT pg_notify(%s, %s)", (self.channel, self._token))
            except pg_errors.UniqueViolation as exc:
                raise _conflict(exc) from None
            self._memo.settle()
            # Another runner may delete an entry and make it again (its version starts
            # over): a task row is never taken to be what this store wrote before.
            self._memo.tasks.clear()
            return numbers

    @property
    def where(self) -> str:
        return self._where

    @property
    def schema_version(self) -> int:
        with self._reading() as db:
            return int(db.execute(POSTGRES.version_query).fetchone()[0])

    def sync(self) -> None:
        if not self._unsynced:
            return
        with self._transaction() as db:  # a synchronous commit flushes the WAL up to it
            db.execute("SELECT txid_current()")
        self._unsynced = False

    def check_alive(self) -> None:
        return None  # a database is not replaced under its connections as a file can be

    def upkeep(self) -> bool:
        return False  # the server vacuums and checkpoints by itself

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.stop(self._nudge)
        with self._lock:
            self._drop()

    def _nudge(self) -> None:
        """A NOTIFY of this store's own (its listener wakes, other runners take it as a
        hint), on the connection that is open: none is opened to send it."""
        with self._lock:
            db = self._db
            if db is None or db.closed or db.broken:
                return
            with contextlib.suppress(psycopg.Error):
                db.execute("SELECT pg_notify(%s, %s)", (self.channel, self._token))

    def watch(self, wake: Callable[[], None], lost: Callable[[str], None]) -> None:
        if self._listener is None:
            self._listener = pg_nodes.Listener(self, wake, lost)


_SERIALS = (("items", "number"), ("item_failures", "seq"))


@dataclasses.dataclass(frozen=True, kw_only=True, slots=True)
class MovedDocument:
    """A report document that `migrate-store` brings along with its log entry."""

    log_at: int  # its log entry's place in the migration's log_insert
    entry_id: str
    at: datetime
    format: str
    content: bytes


class _Batches:
    """The cursor of a transaction, with batches that leave the server's idle timer set.

    psycopg runs `executemany` in pipeline mode, and PostgreSQL (15) does not set the
    idle-in-transaction timer again until the next statement after one: a runner frozen
    right after a batch would hold its locks past IDLE_LIMIT. So an empty batch sends
    nothing, a small one goes statement by statement, and a large one (a reconcile's
    new entries) is followed by a statement that sets the timer again."""

    SMALL = 8  # rows sent one by one (a pass's events and pauses)

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self._cursor = cursor
        self.connection = cursor.connection

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        return self._cursor.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any:
        batch = list(parameters)
        if len(batch) > self.SMALL:
            self._cursor.executemany(sql, batch)
            self._cursor.execute("SELECT 1")
        else:
            for row in batch:
                self._cursor.execute(sql, row)


class _Patient:
    """The store's connection for reads: a statement that fails because the connection
    dropped runs again on a new one, with backoff, for up to READ_PATIENCE (reads are
    single statements: running one again is harmless)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store

    def __enter__(self) -> _Patient:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, sql: str, parameters: Sequence[Any] = (), /) -> Any:
        store, delay = self._store, 0.0
        give_up = time.monotonic() + READ_PATIENCE
        while True:
            time.sleep(delay)
            with store._lock:
                try:
                    cur = store._connection().cursor()
                    cur.execute(sql, parameters)
                    return cur
                except (StoreUnwritable, psycopg.OperationalError) as exc:
                    if isinstance(exc, psycopg.OperationalError):
                        store._drop()
                    if time.monotonic() >= give_up:
                        if isinstance(exc, StoreUnwritable):
                            raise
                        raise StoreUnwritable(f"{store.where}: {_oneline(exc)}") from exc
            delay = min(max(delay * 2, 0.05), 1.0)

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        raise NotImplementedError("reads are single statements")


def _refuse_taken(db: Connection, ids: list[str]) -> None:
    """New entries whose id is taken: the first one named (the shared commit would name
    the first of the batch: its savepoint takes back the rows before the one refused)."""
    if ids:
        found = db.execute("SELECT id FROM entries WHERE id = ANY(%s)", (ids,)).fetchall()
        taken = {r[0] for r in found}
        for entry_id in ids:
            if entry_id in taken:
                raise StoreConflict(f"entry {entry_id!r} already exists")


def _conflict(exc: pg_errors.UniqueViolation) -> StoreConflict:
    if exc.diag.constraint_name == "entries_category_running":
        detail = exc.diag.message_detail or ""
        return StoreConflict(f"another entry of its category is in process ({detail})")
    return StoreConflict(f"a row already exists ({exc.diag.constraint_name or ''})")


def _oneline(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
