"""The SQL tables of work items: one migration of the state file (SQLite syntax, which
a PostgreSQL store writes with its own types: BIGINT times, JSONB is not needed).

Times are microseconds since the epoch, as in the rest of the state file. Imports
nothing: the state store's migrations import it.
"""

from __future__ import annotations

MIGRATION: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS item_queues (
        entry_id TEXT NOT NULL, name TEXT NOT NULL, max_attempts INTEGER NOT NULL,
        done_retention_us INTEGER NOT NULL, PRIMARY KEY (entry_id, name))""",
    """CREATE TABLE IF NOT EXISTS items (
        number INTEGER PRIMARY KEY AUTOINCREMENT, entry_id TEXT NOT NULL,
        queue TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
        payload TEXT NOT NULL, notes TEXT NOT NULL, attempts INTEGER NOT NULL,
        started INTEGER NOT NULL,
        created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, claimed_at INTEGER,
        done_at INTEGER, session_id TEXT, last_session TEXT,
        error_message TEXT NOT NULL, error_stack TEXT NOT NULL,
        discarded_by TEXT NOT NULL, UNIQUE (entry_id, queue, key))""",
    # a claim reads the oldest pending items of one queue: one index range
    "CREATE INDEX IF NOT EXISTS items_pending ON items (entry_id, queue, number) "
    "WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS items_held ON items (session_id) WHERE status = 'in_process'",
    "CREATE INDEX IF NOT EXISTS items_done ON items (entry_id, queue, done_at) "
    "WHERE status = 'done'",
    """CREATE TABLE IF NOT EXISTS item_failures (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, entry_id TEXT NOT NULL,
        queue TEXT NOT NULL, key TEXT NOT NULL, session_id TEXT NOT NULL,
        at INTEGER NOT NULL, message TEXT NOT NULL, attempt INTEGER NOT NULL,
        final INTEGER NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS item_failures_item ON item_failures (entry_id, queue, key)",
    "CREATE INDEX IF NOT EXISTS item_failures_session ON item_failures (session_id)",
    """CREATE TABLE IF NOT EXISTS item_runs (
        session_id TEXT NOT NULL, entry_id TEXT NOT NULL, queue TEXT NOT NULL,
        done INTEGER NOT NULL, failed INTEGER NOT NULL, left_pending INTEGER,
        ended_at INTEGER, PRIMARY KEY (session_id, entry_id, queue))""",
    "CREATE INDEX IF NOT EXISTS item_runs_ended ON item_runs (ended_at)",
)
