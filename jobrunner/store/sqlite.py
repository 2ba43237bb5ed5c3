"""SqliteStore: the file-backed Store. One SQLite file, WAL, synchronous=FULL, a busy
timeout, the schema version in PRAGMA user_version with forward migrations."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from jobrunner import errors, lifecycle, model, permissions, spec, statedir
from jobrunner.store import StoreConflict, StoreLost, StoreUnwritable

FILE_NAME = "jobrunner.sqlite3"
BUSY_TIMEOUT_MS = 10_000
SYNCED_KEPT = 1024  # entries whose task row this store remembers writing
ROWS_KEPT = 1024  # entries whose columns this store remembers reading or writing
# Pages in the WAL from which a checkpoint runs (SQLite's own default), and the bound at
# which a committing connection of a store that leaves checkpoints to a background
# thread runs one itself (that thread is stuck).
CHECKPOINT_PAGES = 1000
CHECKPOINT_PAGES_LATE = 10_000
_FRAME_HEADER = 24  # bytes before each page in the WAL (https://www.sqlite.org/walformat.html)

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE entries (
            id TEXT PRIMARY KEY, entry_no INTEGER NOT NULL UNIQUE,
            definition TEXT NOT NULL, digest TEXT NOT NULL, source TEXT NOT NULL,
            timezone TEXT NOT NULL, category TEXT, priority INTEGER NOT NULL,
            status TEXT NOT NULL, earliest_start INTEGER, attempts INTEGER NOT NULL,
            error_message TEXT NOT NULL, error_call_stack TEXT NOT NULL,
            last_ready_state INTEGER, session_id TEXT, session_pid INTEGER,
            session_started REAL, runner_id TEXT, system_task_id TEXT,
            rejected TEXT NOT NULL, remove_after_run INTEGER NOT NULL,
            last_run_at INTEGER, last_result TEXT,
            created_at INTEGER, updated_at INTEGER, session_retries INTEGER NOT NULL,
            stamp TEXT NOT NULL,
            version INTEGER NOT NULL)""",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO counters VALUES ('entry_no', 0)",
        "CREATE INDEX entries_due ON entries (status, earliest_start)",
        "CREATE INDEX entries_category ON entries (category, status)",
        "CREATE INDEX entries_source ON entries (source)",
        "CREATE INDEX entries_task ON entries (system_task_id)",
        """CREATE TABLE log_entries (
            entry_no INTEGER PRIMARY KEY AUTOINCREMENT, entry_id TEXT NOT NULL,
            user TEXT NOT NULL, start_at INTEGER NOT NULL, end_at INTEGER,
            object_type TEXT NOT NULL, object_id TEXT NOT NULL,
            parameter_string TEXT NOT NULL, description TEXT NOT NULL,
            category TEXT NOT NULL, status TEXT NOT NULL, error_message TEXT NOT NULL,
            error_call_stack TEXT NOT NULL, session_id TEXT NOT NULL,
            attempt INTEGER NOT NULL, system_task_id TEXT NOT NULL, output TEXT NOT NULL,
            client_type TEXT NOT NULL)""",
        "CREATE INDEX log_entry_status ON log_entries (entry_id, status)",
        "CREATE INDEX log_start ON log_entries (start_at)",
        """CREATE TABLE session_events (
            seq INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
            event TEXT NOT NULL, at INTEGER NOT NULL, user TEXT NOT NULL,
            runner_id TEXT NOT NULL, client_type TEXT NOT NULL, entry_id TEXT NOT NULL,
            pid INTEGER, comment TEXT NOT NULL)""",
        "CREATE INDEX session_events_at ON session_events (at)",
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY, object TEXT NOT NULL, failure_object TEXT,
            ready INTEGER NOT NULL, not_before INTEGER, entry_id TEXT, timeout_ms INTEGER,
            parameter TEXT NOT NULL, user TEXT NOT NULL, attempts INTEGER NOT NULL,
            created_at INTEGER, phase TEXT NOT NULL, session_id TEXT,
            version INTEGER NOT NULL)""",
        "CREATE INDEX tasks_due ON tasks (ready, session_id, not_before)",
    ),
    # The dispatch order (due time, the entry's priority and number) on the task row
    # itself, so the queue is one ordered index range: no join, no sort of all due rows.
    2: (
        "ALTER TABLE tasks ADD COLUMN rank INTEGER NOT NULL DEFAULT 2000",
        "ALTER TABLE tasks ADD COLUMN seq INTEGER NOT NULL DEFAULT 0",
        """UPDATE tasks SET
            rank = (SELECT priority FROM entries WHERE entries.system_task_id = tasks.id),
            seq = (SELECT entry_no FROM entries WHERE entries.system_task_id = tasks.id)
            WHERE EXISTS (SELECT 1 FROM entries WHERE entries.system_task_id = tasks.id)""",
        "DROP INDEX tasks_due",
        """CREATE INDEX tasks_queue ON tasks (not_before, rank, seq, created_at, id)
            WHERE ready = 1 AND session_id IS NULL""",
    ),
    3: (  # a rescan reads every file's stamp: from the index alone, not the table
        "DROP INDEX entries_source",
        "CREATE INDEX entries_source ON entries (source, stamp)",
    ),
    4: (  # operators' requests: a run asked for now, a run to end; pauses
        "ALTER TABLE entries ADD COLUMN requests TEXT NOT NULL DEFAULT ''",
        """CREATE TABLE pauses (
            scope TEXT PRIMARY KEY, by_user TEXT NOT NULL, at INTEGER NOT NULL)""",
    ),
}
LATEST = max(MIGRATIONS)

_ENTRY_COLUMNS = (
    "id, entry_no, definition, digest, source, timezone, category, priority, status, "
    "earliest_start, attempts, error_message, error_call_stack, last_ready_state, session_id, "
    "session_pid, session_started, runner_id, system_task_id, rejected, remove_after_run, "
    "last_run_at, last_result, created_at, updated_at, session_retries, stamp, requests, version"
)
_LOG_COLUMNS = (
    "entry_id, user, start_at, end_at, object_type, object_id, parameter_string, description, "
    "category, status, error_message, error_call_stack, session_id, attempt, system_task_id, "
    "output, client_type"
)
_TASK_COLUMNS = (
    "id, object, failure_object, ready, not_before, entry_id, timeout_ms, parameter, user, "
    "attempts, created_at, phase, session_id"
)
_VALUE_COLUMNS = tuple(c.strip() for c in _ENTRY_COLUMNS.split(",")[2:-1])
_ALL_VALUES = tuple(range(len(_VALUE_COLUMNS)))


@functools.lru_cache(maxsize=64)
def _update_entry_sql(changed: tuple[int, ...]) -> str:
    """The update of an entry's columns at these indexes of _VALUE_COLUMNS."""
    return (
        "UPDATE entries SET "
        + "".join(f"{_VALUE_COLUMNS[i]} = ?, " for i in changed)
        + "version = version + 1 WHERE id = ? AND version = ?"
    )


_UPSERT_ENTRY_TASK = (
    f"INSERT INTO tasks ({_TASK_COLUMNS}, rank, seq, version) VALUES ({', '.join('?' * 15)}, 1) "
    "ON CONFLICT(id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in [*_TASK_COLUMNS.split(", ")[1:], "rank", "seq"])
    + ", version = tasks.version + 1"
)
_QUALIFIED_TASK_COLUMNS = ", ".join(f"tasks.{c}" for c in _TASK_COLUMNS.split(", "))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _us(value: datetime | None) -> int | None:
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _dt(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


class NewerStateFile(errors.JobRunnerError):
    """The state file was written by a newer jobrunner (a higher schema version)."""


class StateAccessDenied(errors.JobRunnerError, PermissionError):
    """The state belongs to another account (the runner's): this one may not open it."""


def access_denied(state_dir: Path) -> StateAccessDenied:
    import pwd

    try:
        owner = pwd.getpwuid(state_dir.stat().st_uid).pw_name
    except (OSError, KeyError):
        owner = "the runner's account"
    me = permissions.current_user()
    return StateAccessDenied(
        f"permission denied: the state in {state_dir} is private to {owner!r}, and this is "
        f"{me!r}; run this as {owner!r} (e.g. sudo -u {owner})"
    )


def state_exists(path: Path) -> bool:
    """Whether the state file `path` exists; StateAccessDenied when this account may not
    look into its folder."""
    try:
        return path.exists()
    except PermissionError:
        raise access_denied(path.parent) from None


class StoreFileLost(StoreLost):
    """The state file was deleted, or another file put in its place, while this store
    had it open."""


# SQLite's primary result codes of a write that failed but may succeed later
_UNWRITABLE = {sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR}


def _unwritable(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _UNWRITABLE


class SqliteStore:
    def __init__(self, path: Path, *, background_checkpoints: bool = False) -> None:
        """`background_checkpoints`: copying the WAL into the database is left to
        `checkpoint()`, called from another thread, instead of being done by the commit
        that crosses CHECKPOINT_PAGES (which takes a few milliseconds more for it)."""
        self.path = path
        try:
            # 0600, and SQLite gives its -wal and -shm files the mode of the database
            statedir.make_dir(path.parent)
            statedir.create_file(path)
            self._db = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
            )
        except PermissionError:
            raise access_denied(path.parent) from None
        self._checkpointer: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        # entry id -> (its version as this store last wrote it, the task row written then)
        self._synced: dict[str, tuple[int, tuple[Any, ...] | None]] = {}
        self._syncing: dict[str, tuple[int, tuple[Any, ...] | None] | None] = {}
        # entry id -> (a version, the entry's columns at that version) as this store last
        # read or committed them: an update writes only the columns that differ (fewer
        # index entries rewritten); versions are compare-and-set, so a version names
        # one set of columns
        self._rows: dict[str, tuple[int, tuple[Any, ...]]] = {}
        self._rows_writing: dict[str, tuple[int, tuple[Any, ...]] | None] = {}
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._full = True  # the connection's synchronous mode: FULL (else NORMAL)
        self._db.execute("PRAGMA cache_size = -1024")  # KiB: the hot rows are few
        if background_checkpoints:
            self._db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES_LATE}")
        self._migrate()
        self._identity = _identity(os.stat(path))  # the file SQLite opened
        self._page = int(self._db.execute("PRAGMA page_size").fetchone()[0])
        # The WAL's backlog as SQLite's last checkpoint here left it (unknown at first: a
        # checkpoint finds out) plus about the pages this store's commits wrote since
        # (counted from their rows), and the WAL file's size then (its growth since is a
        # floor of the pages written).
        self._left, self._written, self._size = CHECKPOINT_PAGES + 1, 0, 0
        # SQLite's own files are never opened and closed here: closing any descriptor of a
        # file drops every POSIX lock this process holds on it, SQLite's too (another
        # process then rebuilds the WAL index under this one). The WAL, which SQLite never
        # locks, is opened once for `sync` and closed only after SQLite's connections.
        self._wal_fd: int | None = None

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:  # (SQLite may have rolled it back itself)
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if _unwritable(exc):
                    raise StoreUnwritable(f"{self.path}: {exc}") from exc
                raise

    def _migrate(self) -> None:
        with self._transaction() as db:
            current = db.execute("PRAGMA user_version").fetchone()[0]
            if current > LATEST:
                raise NewerStateFile(
                    f"{self.path} has schema version {current}; this jobrunner knows up to "
                    f"{LATEST}. Upgrade jobrunner."
                )
            for version in range(current + 1, LATEST + 1):
                for statement in MIGRATIONS[version]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {version}")

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    # --- writes ------------------------------------------------------------------------

    def commit(self, transition: model.Transition, *, durable: bool = True) -> list[int]:
        with self._lock:
            if durable != self._full:  # NORMAL: no fsync for this one (see `sync`)
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._full = durable
            return self._commit_locked(transition)

    def _commit_locked(self, transition: model.Transition) -> list[int]:
        self._syncing = {key: None for key, _ in transition.delete}
        self._rows_writing = {key: None for key, _ in transition.delete}
        with self._transaction() as db:
            _delete(db, "entries", "entry", transition.delete)
            self._insert_entries(db, [e for e in transition.put if e.version == 0])
            for entry in transition.put:
                if entry.version:
                    self._update_entry(db, entry)
            numbers = []
            for log in transition.log_insert:
                cur = db.execute(
                    f"INSERT INTO log_entries ({_LOG_COLUMNS}) VALUES ({', '.join('?' * 17)})",
                    _log_row(log),
                )
                numbers.append(int(cur.lastrowid or 0))
            for log in transition.log_update:
                assignments = ", ".join(f"{c.strip()} = ?" for c in _LOG_COLUMNS.split(","))
                cur = db.execute(
                    f"UPDATE log_entries SET {assignments} WHERE entry_no = ?",
                    (*_log_row(log), log.entry_no),
                )
                if cur.rowcount != 1:
                    raise StoreConflict(f"log entry {log.entry_no} does not exist")
            db.executemany(
                "INSERT INTO session_events (session_id, event, at, user, runner_id, "
                "client_type, entry_id, pid, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        e.session_id,
                        e.event,
                        _us(e.at),
                        e.user,
                        e.runner_id,
                        e.client_type.value,
                        e.entry_id,
                        e.pid,
                        e.comment,
                    )
                    for e in transition.events
                ],
            )
            _delete(db, "tasks", "task", transition.task_delete)
            for task in transition.task_put:
                self._put_task(db, task)
            db.executemany(
                "DELETE FROM pauses WHERE scope = ?",
                [(_scope(c),) for c in transition.pause_delete],
            )
            db.executemany(
                "INSERT OR REPLACE INTO pauses (scope, by_user, at) VALUES (?, ?, ?)",
                [(_scope(p.category), p.by, _us(p.at)) for p in transition.pause_put],
            )
        self._written += _weight(transition, self._page)
        _settle(self._synced, self._syncing, SYNCED_KEPT)  # committed: now they are facts
        _settle(self._rows, self._rows_writing, ROWS_KEPT)
        return numbers

    def _insert_entries(self, db: sqlite3.Connection, entries: list[model.Entry]) -> None:
        """New entries, numbered in order, with their tasks: a few statements for any
        number of them (a first reconcile adds thousands)."""
        if not entries:
            return
        # Entry numbers are never reused, also after deletes (BC: AutoIncrement).
        (last,) = db.execute(
            "UPDATE counters SET value = value + ? WHERE name = 'entry_no' RETURNING value",
            (len(entries),),
        ).fetchone()
        rows, tasks, no_tasks = [], [], []
        for number, e in enumerate(entries, last - len(entries) + 1):
            spec.remember(e.spec)
            task = lifecycle.platform_task(e)
            values = _entry_values(e, task)
            rows.append((e.id, number, *values))
            self._rows_writing[e.id] = (1, values)
            row = None if task is None else _entry_task_row(task, e.spec.priority.rank, number)
            self._syncing[e.id] = (1, row)
            if row is None:
                no_tasks.append((lifecycle.system_task_id(e.id),))
            else:
                tasks.append(row)
        db.executemany("DELETE FROM tasks WHERE id = ?", no_tasks)
        db.executemany(_UPSERT_ENTRY_TASK, tasks)
        try:
            db.executemany(
                f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES ({', '.join('?' * 28)}, 1)", rows
            )
        except sqlite3.IntegrityError:
            # the rows before the one refused went in (their numbers are this batch's)
            (done,) = db.execute(
                "SELECT COUNT(*) FROM entries WHERE entry_no > ?", (last - len(rows),)
            ).fetchone()
            raise StoreConflict(f"entry {rows[done][0]!r} already exists") from None

    def _update_entry(self, db: sqlite3.Connection, e: model.Entry) -> None:
        spec.remember(e.spec)
        task = lifecycle.platform_task(e)
        values = _entry_values(e, task)
        known = self._rows.get(e.id)
        if known is not None and known[0] == e.version:
            pairs = enumerate(zip(known[1], values, strict=True))
            changed = tuple(i for i, (was, now) in pairs if was != now)
        else:
            changed = _ALL_VALUES
        cur = db.execute(
            _update_entry_sql(changed), (*(values[i] for i in changed), e.id, e.version)
        )
        self._rows_writing[e.id] = (e.version + 1, values)
        if cur.rowcount != 1:
            raise StoreConflict(f"entry {e.id!r} changed since it was read")
        self._sync_task(db, e.id, e.version, task, e.spec.priority.rank, e.entry_no)

    def _sync_task(
        self,
        db: sqlite3.Connection,
        entry_id: str,
        version: int,
        task: model.Task | None,
        rank: int,
        seq: int,
    ) -> None:
        """The task backing an entry follows the entry (no compare-and-set of its own).
        `version` is the entry's version before this write: when this store wrote that
        version with the same task row, the row is left as it is (a write saved)."""
        row = None if task is None else _entry_task_row(task, rank, seq)
        known = self._synced.get(entry_id)
        self._syncing[entry_id] = (version + 1, row)
        if known is not None and known == (version, row):
            return
        if row is None:
            db.execute("DELETE FROM tasks WHERE id = ?", (lifecycle.system_task_id(entry_id),))
        else:
            db.execute(_UPSERT_ENTRY_TASK, row)

    def _put_task(self, db: sqlite3.Connection, t: model.Task) -> None:
        values = _task_values(t)
        if t.version == 0:
            try:
                db.execute(
                    f"INSERT INTO tasks ({_TASK_COLUMNS}, version) "
                    f"VALUES ({', '.join('?' * 13)}, 1)",
                    (t.id, *values),
                )
            except sqlite3.IntegrityError:
                raise StoreConflict(f"task {t.id!r} already exists") from None
            return
        columns = _TASK_COLUMNS.split(", ")[1:]
        cur = db.execute(
            f"UPDATE tasks SET {', '.join(c + ' = ?' for c in columns)}, version = version + 1 "
            "WHERE id = ? AND version = ?",
            (*values, t.id, t.version),
        )
        if cur.rowcount != 1:
            raise StoreConflict(f"task {t.id!r} changed since it was read")

    # --- reads -------------------------------------------------------------------------

    def _entries(self, where: str, params: tuple[Any, ...]) -> list[model.Entry]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_ENTRY_COLUMNS} FROM entries {where}", params)
            found = rows.fetchall()
            one, known = len(found) == 1, self._rows
            for r in found:  # remembered: a single read, and any read of one known already
                if one or r[0] in known:
                    known[r[0]] = (r[28], r[2:28])
            return [_entry(row) for row in found]

    def get_entry(self, entry_id: str) -> model.Entry | None:
        found = self._entries("WHERE id = ?", (entry_id,))
        return found[0] if found else None

    def list_entries(
        self, *, status: model.EntryStatus | None = None, category: str | None = None
    ) -> list[model.Entry]:
        clauses: list[str] = []
        params: list[Any] = []
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if category is not None:
            clauses.append("category = ?")
            params.append(category)
        where = f"WHERE {' AND '.join(clauses)} " if clauses else ""
        return self._entries(where + "ORDER BY id", tuple(params))

    def entries_by_source(self, sources: Iterable[str]) -> list[model.Entry]:
        wanted = sorted(set(sources))
        marks = ", ".join("?" * len(wanted))
        return (
            self._entries(f"WHERE source IN ({marks}) ORDER BY id", tuple(wanted)) if wanted else []
        )

    def source_stamps(self) -> dict[str, str]:
        with self._lock:
            return dict(self._db.execute("SELECT source, stamp FROM entries").fetchall())

    def waiting_entries(self, category: str) -> list[model.Entry]:
        return self._entries(
            "WHERE status = 'waiting' AND category = ? ORDER BY priority, entry_no", (category,)
        )

    def get_log(self, entry_no: int) -> model.LogEntry | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT entry_no, {_LOG_COLUMNS} FROM log_entries WHERE entry_no = ?",
                (entry_no,),
            ).fetchone()
        return None if row is None else _log(row)

    def list_log(
        self,
        *,
        entry_id: str | None = None,
        status: model.LogStatus | None = None,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[model.LogEntry]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if entry_id is not None:
            clauses.append("entry_id = ?")
            params.append(entry_id)
        if status is not None:
            clauses.append("status = ?")
            params.append(status.value)
        if since is not None:
            clauses.append("start_at >= ?")
            params.append(_us(since))
        sql = (
            f"SELECT entry_no, {_LOG_COLUMNS} FROM log_entries WHERE "
            f"{' AND '.join(clauses)} ORDER BY entry_no DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            return [_log(row) for row in self._db.execute(sql, params).fetchall()]

    def list_sessions(
        self, *, since: datetime | None = None, limit: int | None = None
    ) -> list[model.SessionEvent]:
        sql = (
            "SELECT seq, session_id, event, at, user, runner_id, client_type, entry_id, pid, "
            "comment FROM session_events WHERE at >= ? ORDER BY seq DESC"
        )
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._db.execute(sql, (_us(since) if since else -(2**62),)).fetchall()
        return [
            model.SessionEvent(
                seq=r[0],
                session_id=r[1],
                event=r[2],
                at=_dt(r[3]) or _EPOCH,
                user=r[4],
                runner_id=r[5],
                client_type=model.ClientType(r[6]),
                entry_id=r[7],
                pid=r[8],
                comment=r[9],
            )
            for r in rows
        ]

    def get_task(self, task_id: str) -> model.Task | None:
        found = self._tasks("WHERE id = ?", (task_id,))
        return found[0] if found else None

    def list_tasks(self) -> list[model.Task]:
        return self._tasks("ORDER BY created_at, id", ())

    def due_tasks(self, now: datetime, limit: int) -> list[model.Task]:
        return self._tasks(
            "WHERE ready = 1 AND session_id IS NULL AND not_before <= ? "
            "ORDER BY not_before, rank, seq, created_at, id LIMIT ?",
            (_us(now), limit),
        )

    def next_task_due(self) -> datetime | None:
        with self._lock:
            row = self._db.execute(
                "SELECT MIN(not_before) FROM tasks WHERE ready = 1 AND session_id IS NULL"
            ).fetchone()
        return _dt(row[0])

    def _tasks(self, where: str, params: tuple[Any, ...]) -> list[model.Task]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_QUALIFIED_TASK_COLUMNS}, tasks.version FROM tasks {where}", params
            ).fetchall()
        return [
            model.Task(
                id=r[0],
                object=r[1],
                failure_object=r[2],
                ready=bool(r[3]),
                not_before=_dt(r[4]),
                entry_id=r[5],
                timeout=None if r[6] is None else timedelta(milliseconds=r[6]),
                parameter=r[7],
                user=r[8],
                attempts=r[9],
                created_at=_dt(r[10]),
                phase=model.Phase(r[11]),
                session_id=r[12],
                version=r[13],
            )
            for r in rows
        ]

    def pauses(self) -> list[model.Pause]:
        with self._lock:
            rows = self._db.execute("SELECT scope, by_user, at FROM pauses ORDER BY scope")
            return [
                model.Pause(category=scope or None, by=by, at=_dt(at) or _EPOCH)
                for scope, by, at in rows.fetchall()
            ]

    def prune(self, before: datetime, *, failed_before: datetime | None = None) -> int:
        failed = before if failed_before is None else failed_before
        with self._transaction() as db:
            logs = db.execute(
                "DELETE FROM log_entries WHERE status != 'in_process' AND end_at IS NOT NULL "
                "AND end_at < (CASE status WHEN 'error' THEN ? ELSE ? END)",
                (_us(failed), _us(before)),
            ).rowcount
            events = db.execute("DELETE FROM session_events WHERE at < ?", (_us(before),)).rowcount
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
        mine = "entry_id = ? AND status = ? AND end_at IS NOT NULL"
        clauses: list[str] = []
        params: list[Any] = []
        if before is not None:
            clauses.append("end_at < ?")
            params.append(_us(before))
        if keep is not None:
            clauses.append(
                f"entry_no NOT IN (SELECT entry_no FROM log_entries WHERE {mine} "
                "ORDER BY entry_no DESC LIMIT ?)"
            )
            params += [entry_id, status.value, keep]
        with self._transaction() as db:
            gone = db.execute(
                f"DELETE FROM log_entries WHERE {mine} AND ({' OR '.join(clauses)})",
                (entry_id, status.value, *params),
            ).rowcount
        return int(gone)

    def log_ends(self) -> dict[tuple[str, model.LogStatus], datetime]:
        with self._lock:
            rows = self._db.execute(
                "SELECT entry_id, status, MIN(end_at) FROM log_entries "
                "WHERE status != 'in_process' AND end_at IS NOT NULL GROUP BY entry_id, status"
            ).fetchall()
        ends: dict[tuple[str, model.LogStatus], datetime] = {}
        for entry_id, status, end in rows:
            at = _dt(end)
            if at is not None:
                ends[(entry_id, model.LogStatus(status))] = at
        return ends

    def sync(self) -> None:
        """Make every commit so far durable. Touches no connection: safe from any thread
        (the runner's syncer calls it while the loop goes on)."""
        try:
            if self._wal_fd is None:
                try:
                    self._wal_fd = os.open(f"{self.path}-wal", os.O_RDONLY | os.O_CLOEXEC)
                except FileNotFoundError:  # nothing written yet
                    return
            os.fsync(self._wal_fd)
        except OSError as exc:
            raise StoreUnwritable(f"{self.path}-wal: {exc}") from exc

    def probe(self) -> None:
        """Raise StoreUnwritable unless a write can be committed now (one page of the
        store is written again, unchanged)."""
        with self._transaction() as db:
            db.execute("UPDATE counters SET value = value WHERE name = 'entry_no'")

    def check_alive(self) -> None:
        """Raise StoreFileLost when the store's path no longer names the file it opened
        (deleted, or another file renamed over it). A stat of the path, never an open."""
        try:
            now = _identity(os.stat(self.path))
        except FileNotFoundError:
            raise StoreFileLost(f"{self.path} was deleted while in use") from None
        if now != self._identity:
            raise StoreFileLost(
                f"{self.path} was replaced (another file put in its place) while in use"
            )

    @property
    def where(self) -> str:
        return str(self.path)

    def upkeep(self) -> bool:
        return self.checkpoint()

    def checkpoint(self, pages: int = CHECKPOINT_PAGES) -> bool:
        """Copy the WAL into the database when more than `pages` pages of it are not there
        yet (a passive checkpoint: it never waits for readers or writers, and commits go
        on meanwhile). Whether it ran. Safe from any thread: it uses a connection of its
        own, not the store's. One that cannot run now (busy, say) is left to the next."""
        if self.wal_backlog() <= pages:
            return False
        written = self._written
        try:
            if self._checkpointer is None:
                self._checkpointer = sqlite3.connect(
                    self.path,
                    timeout=BUSY_TIMEOUT_MS / 1000,
                    isolation_level=None,
                    check_same_thread=False,
                )
            _, frames, copied = self._checkpointer.execute(
                "PRAGMA wal_checkpoint(PASSIVE)"
            ).fetchone()
        except sqlite3.Error:
            return False
        self._written -= written
        self._left, self._size = max(0, frames - copied), self._wal_size()
        return True

    def wal_backlog(self) -> int:
        """Pages of the WAL not yet copied into the database, as far as this store knows:
        what its last checkpoint left plus about what its commits wrote since, or the
        WAL's growth since when that is more (a checkpoint corrects it). A stat of the
        WAL's path; no file is opened or read."""
        grown = (self._wal_size() - self._size) // (self._page + _FRAME_HEADER)
        return self._left + max(self._written, grown)

    def _wal_size(self) -> int:
        try:
            return os.stat(f"{self.path}-wal").st_size
        except OSError:
            return 0

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.close()
                self._checkpointer = None
            self._db.close()
            if self._wal_fd is not None:  # SQLite's connections are closed: no lock to lose
                os.close(self._wal_fd)
                self._wal_fd = None


def _weight(t: model.Transition, page: int) -> int:
    """About the pages a transaction writes: the header page and a counter's, a table
    page and index pages for each row, and the overflow pages of large values."""
    rows = len(t.put) + len(t.delete) + len(t.log_insert) + len(t.log_update)
    rows += len(t.events) + len(t.task_put) + len(t.task_delete)
    logs = t.log_insert + t.log_update
    return 2 + 3 * rows + sum(len(g.output) + len(g.error_call_stack) for g in logs) // page


def _scope(category: str | None) -> str:
    """A pause's key: the category, or '' for the whole runner (no category is '')."""
    return category or ""


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _delete(
    db: sqlite3.Connection, table: str, kind: str, rows: tuple[tuple[str, int], ...]
) -> None:
    for key, version in rows:
        cur = db.execute(f"DELETE FROM {table} WHERE id = ? AND version = ?", (key, version))
        if cur.rowcount != 1:
            raise StoreConflict(f"{kind} {key!r} changed since it was read")
        if table == "entries":  # its backing task goes with it
            db.execute("DELETE FROM tasks WHERE id = ?", (lifecycle.system_task_id(key),))


def _task_values(t: model.Task) -> tuple[Any, ...]:
    """A task's columns after its id, in `_TASK_COLUMNS` order."""
    timeout = None if t.timeout is None else round(t.timeout.total_seconds() * 1000)
    return (
        t.object,
        t.failure_object,
        int(t.ready),
        _us(t.not_before) or 0,
        t.entry_id,
        timeout,
        t.parameter,
        t.user,
        t.attempts,
        _us(t.created_at),
        t.phase,
        t.session_id,
    )


def _settle(known: dict[str, Any], written: dict[str, Any], kept: int) -> None:
    """What a committed transaction wrote becomes what this store knows (None: gone).
    Only recent writes matter (the runs in process): an overgrown memory starts over, and
    of a transaction larger than the memory (a first reconcile) only its deletes count."""
    if len(known) > kept:
        known.clear()
    large = len(written) > kept
    for key, value in written.items():
        if value is None:
            known.pop(key, None)
        elif not large:
            known[key] = value


def _entry_values(e: model.Entry, task: model.Task | None) -> tuple[Any, ...]:
    """An entry's columns after its id and number, in _ENTRY_COLUMNS order."""
    s = e.spec
    return (
        spec.definition_json(s),
        s.digest,
        s.source,
        s.timezone,
        s.category,
        s.priority.rank,
        e.status.value,
        _us(e.earliest_start),
        e.attempts,
        e.error_message,
        e.error_call_stack,
        _us(e.last_ready_state),
        e.session_id,
        e.session_pid,
        e.session_started,
        e.runner_id,
        task.id if task else None,
        e.rejected,
        int(e.remove_after_run),
        _us(e.last_run_at),
        e.last_result,
        _us(e.created_at),
        _us(e.updated_at),
        e.session_retries,
        s.stamp,
        _requests_json(e),
    )


def _entry_task_row(task: model.Task, rank: int, seq: int) -> tuple[Any, ...]:
    """The row of the task backing an entry, with the entry's dispatch order."""
    return (task.id, *_task_values(task), rank, seq)


def _entry(r: tuple[Any, ...]) -> model.Entry:
    return model.Entry(
        spec=spec.from_definition(r[2], r[4], r[0], r[5], r[3], r[26]),
        entry_no=r[1],
        status=model.EntryStatus(r[8]),
        earliest_start=_dt(r[9]),
        attempts=r[10],
        error_message=r[11],
        error_call_stack=r[12],
        last_ready_state=_dt(r[13]),
        session_id=r[14],
        session_pid=r[15],
        session_started=r[16],
        runner_id=r[17],
        system_task_id=r[18],
        rejected=r[19],
        remove_after_run=bool(r[20]),
        last_run_at=_dt(r[21]),
        last_result=r[22],
        created_at=_dt(r[23]),
        updated_at=_dt(r[24]),
        session_retries=r[25],
        **_requests(r[27]),
        version=r[28],
    )


def _requests_json(e: model.Entry) -> str:
    """An entry's pending operator requests as JSON ('' when there are none)."""
    found: dict[str, Any] = {}
    if e.trigger is not None:
        t = e.trigger
        found["trigger"] = [t.by, _us(t.at), t.status.value, _us(t.next_run)]
    if e.cancel:
        found["cancel"] = e.cancel
    return json.dumps(found, separators=(",", ":")) if found else ""


def _requests(text: str) -> dict[str, Any]:
    if not text:
        return {}
    found = json.loads(text)
    fields: dict[str, Any] = {"cancel": found.get("cancel", "")}
    if "trigger" in found:
        by, at, status, next_run = found["trigger"]
        fields["trigger"] = model.Trigger(
            by=by, at=_dt(at) or _EPOCH, status=model.EntryStatus(status), next_run=_dt(next_run)
        )
    return fields


def _log_row(log: model.LogEntry) -> tuple[Any, ...]:
    return (
        log.entry_id,
        log.user,
        _us(log.start_at),
        _us(log.end_at),
        log.object_type,
        log.object_id,
        log.parameter_string,
        log.description,
        log.category,
        log.status.value,
        log.error_message,
        log.error_call_stack,
        log.session_id,
        log.attempt,
        log.system_task_id,
        log.output,
        log.client_type.value,
    )


def _log(r: tuple[Any, ...]) -> model.LogEntry:
    return model.LogEntry(
        entry_no=r[0],
        entry_id=r[1],
        user=r[2],
        start_at=_dt(r[3]) or _EPOCH,
        end_at=_dt(r[4]),
        object_type=r[5],
        object_id=r[6],
        parameter_string=r[7],
        description=r[8],
        category=r[9],
        status=model.LogStatus(r[10]),
        error_message=r[11],
        error_call_stack=r[12],
        session_id=r[13],
        attempt=r[14],
        system_task_id=r[15],
        output=r[16],
        client_type=model.ClientType(r[17]),
    )
