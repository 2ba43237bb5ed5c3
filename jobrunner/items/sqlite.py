"""SqliteItems: work items in the state file (their tables are made by the state store's
migrations, `jobrunner.store.sql.migrations`), on a connection of their own; the
statements and rows are the shared SQL layer's (`jobrunner.store.sql.items`).

Every write is one `BEGIN IMMEDIATE` transaction: SQLite lets one writer at a time into
the file, so two sessions' claims never overlap and never take one item twice, and the
check of a session's run (`ItemTx.owns`) holds until the commit. synchronous=FULL: a
committed claim or finish survives a power loss.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from jobrunner.items import model
from jobrunner.store.sql.items import SqlItemTx
from jobrunner.store.sqlite import SQLITE

BUSY_TIMEOUT_MS = 10_000


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
    def transaction(self, *, durable: bool = True) -> Iterator[SqlItemTx]:
        with self._lock:
            if durable != self._full:
                self._db.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
                self._full = durable
            with self._begin("BEGIN IMMEDIATE", writing=True) as tx:
                yield tx

    @contextlib.contextmanager
    def reading(self) -> Iterator[SqlItemTx]:
        with self._lock, self._begin("BEGIN", writing=False) as tx:
            yield tx

    def in_use(self, session_ids: Iterable[str]) -> bool:
        with self.reading() as tx:
            return tx.in_use(session_ids)

    @contextlib.contextmanager
    def _begin(self, begin: str, *, writing: bool) -> Iterator[SqlItemTx]:
        """One transaction; SQLite's errors become ItemError (disk full, a lock held
        beyond the busy timeout, tables missing)."""
        try:
            self._db.execute(begin)
            try:
                yield SqlItemTx(self._db, SQLITE, writing=writing)
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise model.ItemError(f"{self.path}: {exc}") from exc

    def close(self) -> None:
        self._db.close()
