"""The schema of every SQL store: its version, and per dialect the statements that take
a store from each version to the next (applied in one transaction when it is opened).

A version means the same tables and columns in every dialect; a dialect added later
starts at the version it first knows (its first migration creates that whole schema).
"""

from __future__ import annotations

from collections.abc import Mapping

from jobrunner import errors
from jobrunner.store.sql import dialect as dialects

REVISIONS = (
    # Job files on many machines: the revision of the checkout that wrote each
    # definition, and the store's (its newest reconcile's; '' for none), which a
    # reconcile compare-and-sets so that an older checkout never writes over a newer.
    "ALTER TABLE entries ADD COLUMN revision TEXT",
    # a rescan reads each file's stamp and what its entry holds: from the index alone
    "DROP INDEX entries_source",
    "CREATE INDEX entries_source ON entries (source, stamp, id, digest)",
    "CREATE TABLE store_revision (revision TEXT NOT NULL)",
    "INSERT INTO store_revision VALUES ('')",
)
"""Version 6, the same in every dialect (`pg_schema` adds the runners' revisions)."""

SQLITE: dict[int, tuple[str, ...]] = {
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
    # work items (jobrunner/items): tables of their own, IF NOT EXISTS so that a
    # file whose tables came first (a re-run migration) is left as it is
    5: (
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
    ),
    6: REVISIONS,
    # the runner of a task's session, set with it (a shared store: who recovers it)
    7: ("ALTER TABLE tasks ADD COLUMN runner_id TEXT",),
}
LATEST = max(SQLITE)
"""The schema version this code writes (SQLite: PRAGMA user_version)."""


class NewerStateFile(errors.JobRunnerError):
    """The state file was written by a newer jobrunner (a higher schema version)."""


def migrate(db: dialects.Connection, dialect: dialects.Dialect, where: str) -> None:
    """Bring the store open on `db` (in a transaction) to LATEST; NewerStateFile when a
    newer jobrunner wrote it."""
    current = int(db.execute(dialect.version_query).fetchone()[0])
    if current > LATEST:
        raise NewerStateFile(
            f"{where} has schema version {current}; this jobrunner knows up to {LATEST}. "
            "Upgrade jobrunner."
        )
    steps: Mapping[int, tuple[str, ...]] = dialect.migrations
    for version in sorted(v for v in steps if current < v <= LATEST):
        for statement in steps[version]:
            db.execute(statement)
        db.execute(dialect.version_update(version))
