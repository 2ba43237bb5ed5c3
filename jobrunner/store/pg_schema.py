"""The PostgreSQL store's schema (in the connection's search_path): its migrations for
the shared SQL layer, which starts PostgreSQL at the version it first knows, and the
table of the version, made under an advisory lock so that runners starting together
migrate once. Instants are microseconds since the epoch, as in the SQLite file (one row
mapping for both); leases are the server's own `timestamptz`."""

from __future__ import annotations

from typing import Any

from jobrunner.store.sql import migrations

MIGRATIONS: dict[int, tuple[str, ...]] = {
    4: (
        """CREATE TABLE entries (
            id TEXT PRIMARY KEY, entry_no BIGINT NOT NULL UNIQUE,
            definition TEXT NOT NULL, digest TEXT NOT NULL, source TEXT NOT NULL,
            timezone TEXT NOT NULL, category TEXT, priority INTEGER NOT NULL,
            status TEXT NOT NULL, earliest_start BIGINT, attempts INTEGER NOT NULL,
            error_message TEXT NOT NULL, error_call_stack TEXT NOT NULL,
            last_ready_state BIGINT, session_id TEXT, session_pid INTEGER,
            session_started DOUBLE PRECISION, runner_id TEXT, system_task_id TEXT,
            rejected TEXT NOT NULL, remove_after_run INTEGER NOT NULL,
            last_run_at BIGINT, last_result TEXT,
            created_at BIGINT, updated_at BIGINT, session_retries INTEGER NOT NULL,
            stamp TEXT NOT NULL, requests TEXT NOT NULL DEFAULT '',
            version BIGINT NOT NULL)""",
        # A category has at most one entry in process across every runner: two runners
        # that each start one of its entries at once (each compare-and-set on its own
        # row succeeds: write skew) cannot both commit; the loser gets a conflict.
        """CREATE UNIQUE INDEX entries_category_running ON entries (category)
            WHERE status = 'in_process' AND category IS NOT NULL""",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
        "INSERT INTO counters VALUES ('entry_no', 0)",
        "CREATE INDEX entries_due ON entries (status, earliest_start)",
        "CREATE INDEX entries_category ON entries (category, status)",
        "CREATE INDEX entries_source ON entries (source, stamp)",
        "CREATE INDEX entries_task ON entries (system_task_id)",
        """CREATE TABLE log_entries (
            entry_no BIGSERIAL PRIMARY KEY, entry_id TEXT NOT NULL,
            "user" TEXT NOT NULL, start_at BIGINT NOT NULL, end_at BIGINT,
            object_type TEXT NOT NULL, object_id TEXT NOT NULL,
            parameter_string TEXT NOT NULL, description TEXT NOT NULL,
            category TEXT NOT NULL, status TEXT NOT NULL, error_message TEXT NOT NULL,
            error_call_stack TEXT NOT NULL, session_id TEXT NOT NULL,
            attempt INTEGER NOT NULL, system_task_id TEXT NOT NULL, output TEXT NOT NULL,
            client_type TEXT NOT NULL)""",
        "CREATE INDEX log_entry_status ON log_entries (entry_id, status)",
        "CREATE INDEX log_start ON log_entries (start_at)",
        "CREATE INDEX log_session ON log_entries (session_id) WHERE status = 'in_process'",
        """CREATE TABLE session_events (
            seq BIGSERIAL PRIMARY KEY, session_id TEXT NOT NULL,
            event TEXT NOT NULL, at BIGINT NOT NULL, "user" TEXT NOT NULL,
            runner_id TEXT NOT NULL, client_type TEXT NOT NULL, entry_id TEXT NOT NULL,
            pid INTEGER, comment TEXT NOT NULL)""",
        "CREATE INDEX session_events_at ON session_events (at)",
        "CREATE INDEX session_events_runner ON session_events (runner_id, session_id)",
        """CREATE TABLE tasks (
            id TEXT PRIMARY KEY, object TEXT NOT NULL, failure_object TEXT,
            ready INTEGER NOT NULL, not_before BIGINT, entry_id TEXT, timeout_ms BIGINT,
            parameter TEXT NOT NULL, "user" TEXT NOT NULL, attempts INTEGER NOT NULL,
            created_at BIGINT, phase TEXT NOT NULL, session_id TEXT,
            rank INTEGER NOT NULL DEFAULT 2000, seq BIGINT NOT NULL DEFAULT 0,
            version BIGINT NOT NULL)""",
        """CREATE INDEX tasks_queue ON tasks (not_before, rank, seq, created_at, id)
            WHERE ready = 1 AND session_id IS NULL""",
        """CREATE TABLE pauses (
            scope TEXT PRIMARY KEY, by_user TEXT NOT NULL, at BIGINT NOT NULL)""",
        # The runners sharing this store: each renews its lease on the server's clock;
        # one whose lease lapsed is dead, and any other recovers its runs.
        """CREATE TABLE nodes (
            runner_id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL,
            version TEXT NOT NULL, state_dir TEXT NOT NULL,
            started_at TIMESTAMPTZ NOT NULL, lease_until TIMESTAMPTZ NOT NULL)""",
    ),
    # Work items (jobrunner/items): the SQLite file's tables of version 5, column for
    # column (BIGINT instants, BIGSERIAL numbers), shared by every runner.
    5: (
        """CREATE TABLE item_queues (
            entry_id TEXT NOT NULL, name TEXT NOT NULL, max_attempts INTEGER NOT NULL,
            done_retention_us BIGINT NOT NULL, PRIMARY KEY (entry_id, name))""",
        """CREATE TABLE items (
            number BIGSERIAL PRIMARY KEY, entry_id TEXT NOT NULL,
            queue TEXT NOT NULL, key TEXT NOT NULL, status TEXT NOT NULL,
            payload TEXT NOT NULL, notes TEXT NOT NULL, attempts INTEGER NOT NULL,
            started INTEGER NOT NULL,
            created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL, claimed_at BIGINT,
            done_at BIGINT, session_id TEXT, last_session TEXT,
            error_message TEXT NOT NULL, error_stack TEXT NOT NULL,
            discarded_by TEXT NOT NULL, UNIQUE (entry_id, queue, key))""",
        "CREATE INDEX items_pending ON items (entry_id, queue, number) WHERE status = 'pending'",
        "CREATE INDEX items_held ON items (session_id) WHERE status = 'in_process'",
        "CREATE INDEX items_done ON items (entry_id, queue, done_at) WHERE status = 'done'",
        """CREATE TABLE item_failures (
            seq BIGSERIAL PRIMARY KEY, entry_id TEXT NOT NULL,
            queue TEXT NOT NULL, key TEXT NOT NULL, session_id TEXT NOT NULL,
            at BIGINT NOT NULL, message TEXT NOT NULL, attempt INTEGER NOT NULL,
            final INTEGER NOT NULL)""",
        "CREATE INDEX item_failures_item ON item_failures (entry_id, queue, key)",
        "CREATE INDEX item_failures_session ON item_failures (session_id)",
        """CREATE TABLE item_runs (
            session_id TEXT NOT NULL, entry_id TEXT NOT NULL, queue TEXT NOT NULL,
            done INTEGER NOT NULL, failed INTEGER NOT NULL, left_pending INTEGER,
            ended_at BIGINT, PRIMARY KEY (session_id, entry_id, queue))""",
        "CREATE INDEX item_runs_ended ON item_runs (ended_at)",
        # Report documents (jobrunner/reports): kept with their log entry, so any machine
        # with the config reads them, and deleted with it (pruning, trims, prune-log).
        """CREATE TABLE report_documents (
            log_no BIGINT PRIMARY KEY REFERENCES log_entries (entry_no) ON DELETE CASCADE,
            entry_id TEXT NOT NULL, at BIGINT NOT NULL, format TEXT NOT NULL,
            size BIGINT NOT NULL, content BYTEA NOT NULL)""",
    ),
    6: (
        *migrations.REVISIONS,
        # each runner's checkout revision, and the due entries it does not hold
        "ALTER TABLE nodes ADD COLUMN revision TEXT",
        "ALTER TABLE nodes ADD COLUMN unheld TEXT NOT NULL DEFAULT ''",
    ),
    # the runner of a task's session, set with it: a runner killed between a task's
    # start and its session's logon is found by it (the logon names runners too)
    7: ("ALTER TABLE tasks ADD COLUMN runner_id TEXT",),
}


def exists(db: Any) -> bool:
    """Whether a jobrunner schema is in the connection's search_path."""
    row = db.execute("SELECT to_regclass('jobrunner_schema') IS NOT NULL").fetchone()
    return bool(row[0])


def channel(db: Any) -> str:
    """The NOTIFY channel of the store in this connection's schema."""
    row = db.execute("SELECT current_schema()").fetchone()
    return f"jobrunner.{row[0] if row else 'public'}"


def prepare(db: Any) -> None:
    """Inside the opening transaction, before `migrations.migrate`: take the schema's
    advisory lock (a second runner waits, then finds the work done; released at
    commit) and make the version's one-row table (version 0: nothing yet)."""
    db.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.jobrunner'))")
    db.execute("CREATE TABLE IF NOT EXISTS jobrunner_schema (version INTEGER NOT NULL)")
    db.execute(
        "INSERT INTO jobrunner_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM jobrunner_schema)"
    )
