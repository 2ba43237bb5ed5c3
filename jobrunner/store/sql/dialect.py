"""What sets one SQL database apart from another, for the shared SQL store: its
statements' placeholder style and the few it words differently, its DDL, where it keeps
the schema version, and a few hooks. `Connection` is the part of a DB-API connection
(or cursor) the shared code uses: sqlite3's connection and psycopg 3's cursor both are.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from jobrunner.store.sql.item_queries import ITEM_QUERIES, ItemQueries
from jobrunner.store.sql.queries import QUERIES, Queries


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Any: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, parameters: Sequence[Any] = ..., /) -> Cursor: ...

    def executemany(self, sql: str, parameters: Iterable[Sequence[Any]], /) -> Any: ...


def json_list(values: Sequence[str]) -> Any:
    """A list bound as one parameter for `json_each(?)` (SQLite)."""
    return json.dumps(list(values))


@contextlib.contextmanager
def no_savepoint(db: Connection) -> Iterator[None]:
    """For a database whose failed statement leaves its transaction usable (SQLite)."""
    yield


def described(cursor: Any) -> Any:
    """A result's columns as a hashable key whose items' [0] are the names (sqlite3's
    `description` is a tuple of tuples already)."""
    return cursor.description


def last_row_id(cursor: Any) -> int:
    """The number an insert gave its row (SQLite's lastrowid)."""
    return int(cursor.lastrowid or 0)


@dataclass(frozen=True, kw_only=True, slots=True)
class Dialect:
    """One database's way with the shared statements and schema.

    `queries`: `QUERIES` styled for its driver, with its own wording of any of them
    (`items`: the work items' statements, `ITEM_QUERIES` likewise);
    `migrations`: version -> statements (`migrations.migrate`); `version_query` reads
    the schema version (one row, one column) and `version_update(n)` stores it;
    `unique_violation`: what its driver raises for a duplicate key; `many` binds a
    list as the one parameter of `entries_by_source`; `savepoint(db)` guards a
    statement that may fail so that the transaction can go on (PostgreSQL aborts the
    whole transaction otherwise); `inserted_id(cursor)` is the number `insert_log`
    gave its row (with RETURNING: the row it returned); `shape(cursor)` is the result's
    columns as a hashable key of (name, ...) items (readers are cached by it; psycopg:
    `tuple((c.name,) for c in cursor.description)`); `driver_error`: what its driver
    raises for any failed statement (work items report it as an ItemError)."""

    name: str
    migrations: Mapping[int, tuple[str, ...]]
    version_query: str
    version_update: Callable[[int], str]
    unique_violation: tuple[type[Exception], ...]
    queries: Queries = QUERIES
    many: Callable[[Sequence[str]], Any] = json_list
    savepoint: Callable[[Connection], contextlib.AbstractContextManager[None]] = no_savepoint
    inserted_id: Callable[[Any], int] = last_row_id
    shape: Callable[[Any], Any] = described
    items: ItemQueries = ITEM_QUERIES
    driver_error: tuple[type[Exception], ...] = ()
