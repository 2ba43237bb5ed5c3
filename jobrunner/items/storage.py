"""The ItemStore protocol: where work items are kept, documented once here.

`ops` writes every operation once over an `ItemTx`, the few reads and writes it needs
inside one transaction; an implementation provides those and nothing else (no policy).
Implementations: `memory.MemoryItems` (the reference, for unit tests and the memory
state store), `sqlite.SqliteItems` (tables of their own in the state file, on a
connection of their own) and `jobrunner.store.sql.items.SqlItems` (the same tables in
any other SQL store, on the store's own connection: PostgreSQL, where several runners
share them); both SQL ones run the shared SQL layer's statements
(`jobrunner.store.sql.item_queries`, per dialect) through its `SqlItemTx`, and their
tables are version 5 of each dialect's schema. The contract suite in
tests/contract/test_items.py runs against all three.

A store shared by several processes locks what a transaction reads to write (`pending`
skips what another claim holds: `SELECT ... FOR UPDATE SKIP LOCKED`), and `owns` keeps
the row of a session's run as read until the commit, so a session whose run another
runner recovered (it was fenced out) can write none of the items again.

How another store plugs in: a Dialect with its wording of the item statements, the
item tables in its schema's version 5, one branch in `for_store` below when it is not a
SqlStore, and its fixture in the contract suite.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Protocol

from jobrunner import store
from jobrunner.items import model
from jobrunner.items.model import Item


class ItemTx(Protocol):
    """The reads and writes of one transaction; all of them commit together or none."""

    def owns(self, owner: model.Owner) -> bool:
        """Whether the owner's run is still the one in process: its entry's (or task's)
        row records its session at a version of at least its fence. A store shared by
        several processes keeps that row as read until this transaction ends (a
        recovery of the run waits for it)."""
        ...

    def get_queue(self, entry_id: str, name: str) -> model.Queue | None:
        """A queue's settings as last put, or None."""
        ...

    def put_queue(self, queue: model.Queue) -> None:
        """Store a queue's settings (replacing earlier ones)."""
        ...

    def queues(self, entry_id: str | None = None) -> list[model.Queue]:
        """The queues (of one entry), by entry id and name."""
        ...

    def get(self, entry_id: str, queue: str, key: str) -> Item | None:
        """The item with this key in the queue, or None."""
        ...

    def get_number(self, number: int) -> Item | None:
        """The item with this number, or None (it was deleted)."""
        ...

    def put(self, item: Item, *, was: Item | None = None) -> Item:
        """Insert an item of number 0 (returned with its new number, greater than every
        number given before; ItemError when its key exists in its queue), else replace
        the stored item of that number. `was`: the item as read in this transaction
        (a store may then write only what changed)."""
        ...

    def pending(self, entry_id: str, queue: str, limit: int, session_id: str) -> list[Item]:
        """Up to `limit` items of the queue that `core.claimable` allows to
        `session_id`, oldest (lowest number) first. A store shared by several processes
        locks them for this transaction and skips those another transaction has locked."""
        ...

    def held_by(self, session_ids: Iterable[str]) -> list[Item]:
        """The items in process held by these sessions, by number."""
        ...

    def held_sessions(self) -> set[str]:
        """The sessions that hold an item in process."""
        ...

    def items(self, page: model.Page) -> list[Item]:
        """The items of `page.entry_id` (of `queue`, `status`, `keys` when given), by
        number, at most `limit`."""
        ...

    def status_counts(self, entry_ids: Iterable[str] | None = None) -> dict[tuple[str, str], int]:
        """(entry id, status value) -> how many items (of these entries; default all)."""
        ...

    def count_pending(self, entry_id: str, queue: str) -> int:
        """How many items of the queue are pending."""
        ...

    def add_failure(self, failure: model.Failure) -> None:
        """Keep one failed attempt (numbered in order)."""
        ...

    def failures(
        self, *, session_ids: Iterable[str] = (), item: tuple[str, str, str] | None = None
    ) -> list[model.Failure]:
        """The failures of these sessions, or of one item (entry id, queue, key), oldest
        first."""
        ...

    def get_count(self, session_id: str, entry_id: str, queue: str) -> model.RunCount | None:
        """What a session did with a queue, or None when it never opened the queue."""
        ...

    def put_count(self, count: model.RunCount) -> None:
        """Store a session's count for a queue (replacing the one before)."""
        ...

    def counts(self, session_ids: Iterable[str]) -> list[model.RunCount]:
        """The counts of these sessions, by session, entry id and queue."""
        ...

    def delete_done(self, entry_id: str, queue: str, before: datetime) -> int:
        """Delete the queue's done items done before `before`, with their failures;
        how many items went."""
        ...

    def delete_counts(self, before: datetime) -> int:
        """Delete the counts of sessions that ended before `before`; how many went."""
        ...

    def oldest_done(self) -> list[tuple[str, str, datetime]]:
        """(entry id, queue, the earliest done instant) for each queue with done items."""
        ...


class ItemStore(Protocol):
    def transaction(self, *, durable: bool = True) -> AbstractContextManager[ItemTx]:
        """A transaction that writes: what it did is durable once the block ended
        normally, and undone when it raised. Writers of one item never overlap. With
        `durable=False` it is still atomic and survives the process (a kill -9), but a
        power loss may take it until a later durable one (SQLite: synchronous=NORMAL;
        PostgreSQL: synchronous_commit off)."""
        ...

    def reading(self) -> AbstractContextManager[ItemTx]:
        """A transaction that only reads (one consistent view; it takes no write lock)."""
        ...

    def in_use(self, session_ids: Iterable[str]) -> bool:
        """Whether any of these sessions opened a queue (has a count) or holds an item in
        process: one read of its own, outside any transaction (most sessions use no
        items, and the runner asks this of each session that ends)."""
        ...

    def close(self) -> None:
        """Release the item store's resources (not the state store's)."""
        ...


_memory: weakref.WeakKeyDictionary[object, ItemStore] = weakref.WeakKeyDictionary()


def keeps_items(st: store.Store) -> bool:
    """Whether work items are kept with the state store `st` (every SQL store and the
    memory store; the runner's hooks skip any other)."""
    from jobrunner.store.memory import MemoryStore
    from jobrunner.store.sql.base import SqlStore

    return isinstance(st, SqlStore | MemoryStore)


def for_store(st: store.Store) -> ItemStore:
    """The item store kept with the state store `st` (the caller closes it; that of a
    store on the store's connection leaves it open). One branch per kind of store."""
    from jobrunner.store.memory import MemoryStore
    from jobrunner.store.sql.base import SqlStore
    from jobrunner.store.sqlite import SqliteStore

    if isinstance(st, SqliteStore):
        from jobrunner.items.sqlite import SqliteItems

        return SqliteItems(st.path)
    if isinstance(st, SqlStore):
        from jobrunner.store.sql.items import SqlItems

        return SqlItems(st)
    if isinstance(st, MemoryStore):
        from jobrunner.items.memory import MemoryItems

        found = _memory.get(st)
        if found is None:
            found = _memory[st] = MemoryItems(st)
        return found
    raise model.ItemError(f"work items are not kept in this kind of store: {st.where}")
