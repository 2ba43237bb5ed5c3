"""SqliteStore: the file-backed Store. One SQLite file, WAL, synchronous=FULL (NORMAL for
a commit that a later `sync` makes durable), a busy timeout; the schema version in
PRAGMA user_version. What every SQL store shares is in `store.sql`; this module keeps
SQLite's own concerns: PRAGMAs, the WAL's fsync and checkpoints, the WAL backlog, the
file's identity and who may open it."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from jobrunner import errors, model, permissions, statedir
from jobrunner.store import StoreLost, StoreUnwritable
from jobrunner.store.sql import migrations
from jobrunner.store.sql.base import Locked, SqlStore
from jobrunner.store.sql.dialect import Connection, Dialect
from jobrunner.store.sql.migrations import LATEST, NewerStateFile

__all__ = [
    "CHECKPOINT_PAGES",
    "FILE_NAME",
    "LATEST",
    "NewerStateFile",
    "SqliteStore",
    "StateAccessDenied",
    "StoreFileLost",
    "state_exists",
]

FILE_NAME = "jobrunner.sqlite3"
BUSY_TIMEOUT_MS = 10_000
# Pages in the WAL from which a checkpoint runs (SQLite's own default), and the bound at
# which a committing connection of a store that leaves checkpoints to a background
# thread runs one itself (that thread is stuck).
CHECKPOINT_PAGES = 1000
CHECKPOINT_PAGES_LATE = 10_000
_FRAME_HEADER = 24  # bytes before each page in the WAL (https://www.sqlite.org/walformat.html)

SQLITE = Dialect(
    name="sqlite",
    migrations=migrations.SQLITE,
    version_query="PRAGMA user_version",
    version_update=lambda version: f"PRAGMA user_version = {int(version)}",
    unique_violation=(sqlite3.IntegrityError,),
    driver_error=(sqlite3.Error,),
)


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


class SqliteStore(SqlStore):
    def __init__(self, path: Path, *, background_checkpoints: bool = False) -> None:
        """`background_checkpoints`: copying the WAL into the database is left to
        `checkpoint()`, called from another thread, instead of being done by the commit
        that crosses CHECKPOINT_PAGES (which takes a few milliseconds more for it)."""
        super().__init__(SQLITE)
        self.path = path
        self._db = _connect(path)
        self._reader = Locked(self._lock, self._db)
        self._checkpointer: sqlite3.Connection | None = None
        self._full = True  # the connection's synchronous mode: FULL (else NORMAL)
        self._configure(background_checkpoints)
        with self._transaction() as db:
            migrations.migrate(db, SQLITE, str(path))
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

    def _configure(self, background_checkpoints: bool) -> None:
        self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        # KiB: the hot rows are few, and the file is in the page cache anyway (at 1 MiB the
        # runner of 10,000 entries kept 0.4 MiB more, for nothing the benchmarks could see)
        self._db.execute("PRAGMA cache_size = -512")
        if background_checkpoints:
            self._db.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES_LATE}")

    @contextlib.contextmanager
    def _transaction(self, *, durable: bool | None = None) -> Iterator[Connection]:
        with self._lock:
            if durable is not None and durable != self._full:  # NORMAL: see `sync`
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._full = durable
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

    def _reading(self) -> contextlib.AbstractContextManager[Connection]:
        return self._reader

    def _committed(self, transition: model.Transition) -> None:
        self._written += _weight(transition, self._page)

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

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


def _connect(path: Path) -> sqlite3.Connection:
    try:
        # 0600, and SQLite gives its -wal and -shm files the mode of the database
        statedir.make_dir(path.parent)
        statedir.create_file(path)
        return sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
    except PermissionError:
        raise access_denied(path.parent) from None


def _weight(t: model.Transition, page: int) -> int:
    """About the pages a transaction writes: the header page and a counter's, a table
    page and index pages for each row, and the overflow pages of large values."""
    rows = len(t.put) + len(t.delete) + len(t.log_insert) + len(t.log_update)
    rows += len(t.events) + len(t.task_put) + len(t.task_delete)
    logs = t.log_insert + t.log_update
    return 2 + 3 * rows + sum(len(g.output) + len(g.error_call_stack) for g in logs) // page


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino
