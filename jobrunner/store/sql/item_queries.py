"""Every statement of the work items' tables (`jobrunner.items`), named once, in the shared
dialect as `queries` is (`?` placeholders, `ItemQueries.styled` for another style); a
dialect replaces the few it words otherwise (`dataclasses.replace`): a list bound as one
parameter (`of_sessions`, `of_keys`), text orderings, and the row locks of a database
that several processes write at once (`lock`, `claim_lock`, `share`: PostgreSQL's
`FOR UPDATE`, `FOR UPDATE SKIP LOCKED`, `FOR SHARE`; SQLite needs none: one writer at a
time holds the whole file).

The column lists are the ones `items` maps (ITEM_VALUES is `items.item_values` order).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

from jobrunner.store.sql import queries

ITEM_VALUES = (
    "entry_id",
    "queue",
    "key",
    "status",
    "payload",
    "notes",
    "attempts",
    "started",
    "created_at",
    "updated_at",
    "claimed_at",
    "done_at",
    "session_id",
    "last_session",
    "error_message",
    "error_stack",
    "discarded_by",
)
"""An item's columns besides its number."""

_ITEM = f"SELECT number, {', '.join(ITEM_VALUES)} FROM items"
_FAILURE = (
    "SELECT entry_id, queue, key, session_id, at, message, attempt, final, seq FROM item_failures"
)
_COUNT = "SELECT session_id, entry_id, queue, done, failed, left_pending, ended_at FROM item_runs"
_QUEUE = "SELECT entry_id, name, max_attempts, done_retention_us FROM item_queues"
_DONE = "entry_id = ? AND queue = ? AND status = 'done' AND done_at < ?"


@dataclass(frozen=True, kw_only=True, slots=True)
class ItemQueries:
    # --- queues and their settings ----------------------------------------------------
    get_queue: str = f"{_QUEUE} WHERE entry_id = ? AND name = ?"
    put_queue: str = (
        "INSERT INTO item_queues (entry_id, name, max_attempts, done_retention_us) "
        "VALUES (?, ?, ?, ?) ON CONFLICT (entry_id, name) DO UPDATE SET "
        "max_attempts = excluded.max_attempts, done_retention_us = excluded.done_retention_us"
    )
    queues: str = f"{_QUEUE} ORDER BY entry_id, name"
    queues_of_entry: str = f"{_QUEUE} WHERE entry_id = ? ORDER BY name"

    # --- items ------------------------------------------------------------------------
    items: str = _ITEM
    of_number: str = "number = ?"
    of_key: str = "entry_id = ? AND queue = ? AND key = ?"
    of_entry: str = "entry_id = ?"
    of_queue: str = "queue = ?"
    of_status: str = "status = ?"
    # one parameter: a list as `Dialect.many` binds it (SQLite: JSON text)
    of_keys: str = "key IN (SELECT value FROM json_each(?))"
    of_sessions: str = "session_id IN (SELECT value FROM json_each(?))"
    of_entries: str = "entry_id IN (SELECT value FROM json_each(?))"
    held: str = "status = 'in_process'"
    # `core.claimable`: pending, and not last failed in this very session
    claimable: str = (
        "entry_id = ? AND queue = ? AND status = 'pending' "
        "AND (last_session IS NULL OR last_session != ? OR error_message = '')"
    )
    by_number: str = "ORDER BY number"
    limit: str = "LIMIT ?"
    insert_item: str = (
        f"INSERT INTO items ({', '.join(ITEM_VALUES)}) "
        f"VALUES ({', '.join('?' * len(ITEM_VALUES))}) "
        "ON CONFLICT (entry_id, queue, key) DO NOTHING RETURNING number"
    )
    held_sessions: str = "SELECT DISTINCT session_id FROM items WHERE status = 'in_process'"
    status_counts: str = "SELECT entry_id, status, COUNT(*) FROM items"
    status_counts_tail: str = "GROUP BY entry_id, status"
    count_pending: str = (
        "SELECT COUNT(*) FROM items WHERE entry_id = ? AND queue = ? AND status = 'pending'"
    )
    delete_done: str = f"DELETE FROM items WHERE {_DONE}"
    oldest_done: str = (
        "SELECT entry_id, queue, MIN(done_at) FROM items WHERE status = 'done' "
        "GROUP BY entry_id, queue ORDER BY entry_id, queue"
    )

    # --- failures and what each session did -------------------------------------------
    add_failure: str = (
        "INSERT INTO item_failures (entry_id, queue, key, session_id, at, message, attempt, "
        "final) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    )
    failures: str = f"{_FAILURE} WHERE"
    failures_tail: str = "OR (entry_id = ? AND queue = ? AND key = ?) ORDER BY seq"
    delete_done_failures: str = (
        "DELETE FROM item_failures WHERE (entry_id, queue, key) IN "
        f"(SELECT entry_id, queue, key FROM items WHERE {_DONE})"
    )
    get_count: str = f"{_COUNT} WHERE session_id = ? AND entry_id = ? AND queue = ?"
    put_count: str = (
        "INSERT INTO item_runs (session_id, entry_id, queue, done, failed, left_pending, "
        "ended_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (session_id, entry_id, queue) DO UPDATE SET done = excluded.done, "
        "failed = excluded.failed, left_pending = excluded.left_pending, "
        "ended_at = excluded.ended_at"
    )
    counts: str = f"{_COUNT} WHERE"
    counts_tail: str = "ORDER BY session_id, entry_id, queue"
    delete_counts: str = "DELETE FROM item_runs WHERE ended_at < ?"

    # --- the fence: the run a session works for still owns its row -------------------
    owner_entry: str = "SELECT 1 FROM entries WHERE id = ? AND session_id = ? AND version >= ?"
    owner_task: str = "SELECT 1 FROM tasks WHERE id = ? AND session_id = ? AND version >= ?"

    # --- row locks (SQLite: none) ----------------------------------------------------
    lock: str = ""  # after a read of rows the transaction writes
    claim_lock: str = ""  # after the claim's read: rows another claim holds are skipped
    share: str = ""  # after the owner's read: its row stays as read until the commit

    placeholder: str = "?"

    def styled(self, placeholder: str) -> ItemQueries:
        """These statements with `placeholder` for each `?` (see `Queries.styled`)."""
        if placeholder == self.placeholder:
            return self
        fields = [f.name for f in dataclasses.fields(self) if f.name != "placeholder"]
        restyled = {name: queries.styled_text(getattr(self, name), placeholder) for name in fields}
        return dataclasses.replace(self, placeholder=placeholder, **restyled)


ITEM_QUERIES = ItemQueries()


@functools.lru_cache(maxsize=64)
def update_item(changed: tuple[int, ...], placeholder: str = "?") -> str:
    """The update of an item's columns at these indexes of ITEM_VALUES (those that
    changed: an index is rewritten only when a column of it is written)."""
    assignments = ", ".join(f"{ITEM_VALUES[i]} = {placeholder}" for i in changed)
    return f"UPDATE items SET {assignments} WHERE number = {placeholder}"
