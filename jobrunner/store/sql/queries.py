"""Every statement an SQL store runs, named once (as procrastinate's queries.sql).

They are written in the shared dialect: `?` placeholders (`Queries.styled` gives them in
another style, e.g. psycopg's `%s`) and SQL that SQLite and PostgreSQL both take
(`ON CONFLICT ... DO UPDATE`, `RETURNING`, and "user" quoted: PostgreSQL reserves it).
A dialect uses them as they are or replaces a few (`dataclasses.replace`).

The reads that take optional filters are a head, named fragments and an order, joined
by `filtered`; an entry's update names only the columns that changed (`update_entry`).
The column lists here are the ones `rows` encodes and decodes (a test compares them).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

ENTRY_VALUES = (
    "definition",
    "digest",
    "source",
    "timezone",
    "category",
    "priority",
    "status",
    "earliest_start",
    "attempts",
    "error_message",
    "error_call_stack",
    "last_ready_state",
    "session_id",
    "session_pid",
    "session_started",
    "runner_id",
    "system_task_id",
    "rejected",
    "remove_after_run",
    "last_run_at",
    "last_result",
    "created_at",
    "updated_at",
    "session_retries",
    "stamp",
    "requests",
    "revision",
)
"""An entry's columns besides its id, number and version (`rows.entry_values` order)."""

_ENTRY = (
    "SELECT id, entry_no, definition, digest, source, timezone, category, priority, status, "
    "earliest_start, attempts, error_message, error_call_stack, last_ready_state, session_id, "
    "session_pid, session_started, runner_id, system_task_id, rejected, remove_after_run, "
    "last_run_at, last_result, created_at, updated_at, session_retries, stamp, requests, "
    "revision, version FROM entries"
)
_LOG = (
    'SELECT entry_no, entry_id, "user", start_at, end_at, object_type, object_id, '
    "parameter_string, description, category, status, error_message, error_call_stack, "
    "session_id, attempt, system_task_id, output, client_type FROM log_entries"
)
_TASK = (
    "SELECT id, object, failure_object, ready, not_before, entry_id, timeout_ms, parameter, "
    '"user", attempts, created_at, phase, session_id, runner_id, version FROM tasks'
)
_DUE = "ready = 1 AND session_id IS NULL"  # the queue: the partial index tasks_queue


@dataclass(frozen=True, kw_only=True, slots=True)
class Queries:
    # --- reads of entries -----------------------------------------------------------
    entries: str = _ENTRY
    entries_of_status: str = "status = ?"
    entries_of_category: str = "category = ?"
    entries_order: str = "ORDER BY id"
    get_entry: str = f"{_ENTRY} WHERE id = ?"
    # one parameter: the sources as `Dialect.many` binds a list (SQLite: JSON text)
    entries_by_source: str = (
        f"{_ENTRY} WHERE source IN (SELECT value FROM json_each(?)) ORDER BY id"
    )
    entries_by_id: str = f"{_ENTRY} WHERE id IN (SELECT value FROM json_each(?))"
    waiting_entries: str = (
        f"{_ENTRY} WHERE status = 'waiting' AND category = ? ORDER BY priority, entry_no"
    )
    sources: str = "SELECT source, stamp, id, digest FROM entries"  # (the index entries_source)
    store_revision: str = "SELECT revision FROM store_revision"
    entry_definitions: str = "SELECT id, definition FROM entries"
    entry_states: str = (
        "SELECT id, status, category, earliest_start, rejected FROM entries ORDER BY id"
    )
    running_sessions: str = (
        "SELECT session_id FROM entries WHERE session_id IS NOT NULL "
        "UNION SELECT session_id FROM tasks WHERE session_id IS NOT NULL"
    )
    page: str = "LIMIT ? OFFSET ?"

    # --- reads of the log, sessions, tasks and pauses ---------------------------------
    log: str = _LOG
    log_of_entry: str = "entry_id = ?"
    log_of_status: str = "status = ?"
    log_since: str = "start_at >= ?"
    log_order: str = "ORDER BY entry_no DESC"
    get_log: str = f"{_LOG} WHERE entry_no = ?"
    sessions: str = (
        'SELECT seq, session_id, event, at, "user", runner_id, client_type, entry_id, pid, '
        "comment FROM session_events WHERE at >= ? ORDER BY seq DESC"
    )
    limit: str = "LIMIT ?"
    get_task: str = f"{_TASK} WHERE id = ?"
    list_tasks: str = f"{_TASK} ORDER BY created_at, id"
    due_tasks: str = (
        f"{_TASK} WHERE {_DUE} AND not_before <= ? "
        "ORDER BY not_before, rank, seq, created_at, id LIMIT ?"
    )
    next_task_due: str = f"SELECT MIN(not_before) FROM tasks WHERE {_DUE}"
    pauses: str = "SELECT scope, by_user, at FROM pauses ORDER BY scope"
    # log entries above a number by entry and status, an in-process one on its own;
    # `log_within` once per bound, between the head and the tail
    log_stats: str = (
        "SELECT entry_id, status, COUNT(*) AS runs, MAX(entry_no) AS last_no, "
        "MAX(end_at) AS last_end, COUNT(end_at) AS ended, SUM(end_at - start_at) AS took"
    )
    log_within: str = ", SUM(CASE WHEN end_at - start_at <= ? THEN 1 ELSE 0 END) AS within"
    log_stats_tail: str = (
        " FROM log_entries WHERE entry_no > ? "
        "GROUP BY entry_id, status, CASE WHEN status = 'in_process' THEN entry_no END"
    )
    log_ends: str = (
        "SELECT entry_id, status, MIN(end_at) FROM log_entries "
        "WHERE status != 'in_process' AND end_at IS NOT NULL GROUP BY entry_id, status"
    )

    # --- writes of entries and their tasks ------------------------------------------
    # Entry numbers are never reused, also after deletes (BC: AutoIncrement).
    take_entry_numbers: str = (
        "UPDATE counters SET value = value + ? WHERE name = 'entry_no' RETURNING value"
    )
    insert_entry: str = (
        "INSERT INTO entries (id, entry_no, definition, digest, source, timezone, category, "
        "priority, status, earliest_start, attempts, error_message, error_call_stack, "
        "last_ready_state, session_id, session_pid, session_started, runner_id, "
        "system_task_id, rejected, remove_after_run, last_run_at, last_result, created_at, "
        "updated_at, session_retries, stamp, requests, revision, version) VALUES (?, ?, ?, ?, "
        "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
    )
    # the store's revision of the job files, compare-and-set ('' in the row: none)
    move_revision: str = "UPDATE store_revision SET revision = ? WHERE revision = ?"
    entries_numbered_after: str = "SELECT COUNT(*) FROM entries WHERE entry_no > ?"
    delete_entry: str = "DELETE FROM entries WHERE id = ? AND version = ?"
    put_entry_task: str = (
        "INSERT INTO tasks (id, object, failure_object, ready, not_before, entry_id, timeout_ms, "
        'parameter, "user", attempts, created_at, phase, session_id, runner_id, rank, seq, '
        "version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) "
        "ON CONFLICT (id) DO UPDATE SET object = excluded.object, "
        "failure_object = excluded.failure_object, ready = excluded.ready, "
        "not_before = excluded.not_before, entry_id = excluded.entry_id, "
        "timeout_ms = excluded.timeout_ms, parameter = excluded.parameter, "
        '"user" = excluded."user", attempts = excluded.attempts, '
        "created_at = excluded.created_at, phase = excluded.phase, "
        "session_id = excluded.session_id, runner_id = excluded.runner_id, "
        "rank = excluded.rank, seq = excluded.seq, "
        "version = tasks.version + 1"
    )
    drop_task: str = "DELETE FROM tasks WHERE id = ?"

    # --- writes of tasks, the log, session events and pauses --------------------------
    insert_task: str = (
        "INSERT INTO tasks (id, object, failure_object, ready, not_before, entry_id, timeout_ms, "
        'parameter, "user", attempts, created_at, phase, session_id, runner_id, version) '
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
    )
    update_task: str = (
        "UPDATE tasks SET object = ?, failure_object = ?, ready = ?, not_before = ?, "
        'entry_id = ?, timeout_ms = ?, parameter = ?, "user" = ?, attempts = ?, '
        "created_at = ?, phase = ?, session_id = ?, runner_id = ?, version = version + 1 "
        "WHERE id = ? AND version = ?"
    )
    delete_task: str = "DELETE FROM tasks WHERE id = ? AND version = ?"
    insert_log: str = (
        'INSERT INTO log_entries (entry_id, "user", start_at, end_at, object_type, object_id, '
        "parameter_string, description, category, status, error_message, error_call_stack, "
        "session_id, attempt, system_task_id, output, client_type) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    update_log: str = (
        'UPDATE log_entries SET entry_id = ?, "user" = ?, start_at = ?, end_at = ?, '
        "object_type = ?, object_id = ?, parameter_string = ?, description = ?, "
        "category = ?, status = ?, error_message = ?, error_call_stack = ?, "
        "session_id = ?, attempt = ?, system_task_id = ?, output = ?, client_type = ? "
        "WHERE entry_no = ?"
    )
    insert_event: str = (
        'INSERT INTO session_events (session_id, event, at, "user", runner_id, client_type, '
        "entry_id, pid, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    delete_pause: str = "DELETE FROM pauses WHERE scope = ?"
    put_pause: str = (
        "INSERT INTO pauses (scope, by_user, at) VALUES (?, ?, ?) "
        "ON CONFLICT (scope) DO UPDATE SET by_user = excluded.by_user, at = excluded.at"
    )

    # --- upkeep ---------------------------------------------------------------------
    prune_log: str = (
        "DELETE FROM log_entries WHERE status != 'in_process' AND end_at IS NOT NULL "
        "AND end_at < (CASE status WHEN 'error' THEN ? ELSE ? END)"
    )
    prune_sessions: str = "DELETE FROM session_events WHERE at < ?"
    trim_log: str = (
        "DELETE FROM log_entries WHERE entry_id = ? AND status = ? AND end_at IS NOT NULL"
    )
    trim_before: str = "end_at < ?"
    trim_beyond: str = (
        "entry_no NOT IN (SELECT entry_no FROM log_entries WHERE entry_id = ? AND status = ? "
        "AND end_at IS NOT NULL ORDER BY entry_no DESC LIMIT ?)"
    )
    probe: str = "UPDATE counters SET value = value WHERE name = 'entry_no'"

    placeholder: str = "?"

    def styled(self, placeholder: str) -> Queries:
        """These statements with `placeholder` for each `?` (none of them holds a `?`
        of its own; a `%` is doubled for a driver that formats with `%`)."""
        if placeholder == self.placeholder:
            return self
        fields = [f.name for f in dataclasses.fields(self) if f.name != "placeholder"]
        restyled = {name: styled_text(getattr(self, name), placeholder) for name in fields}
        return dataclasses.replace(self, placeholder=placeholder, **restyled)


def styled_text(text: str, placeholder: str) -> str:
    """One statement with `placeholder` for each `?` (a `%` doubled for a driver that
    formats with `%`)."""
    return (text.replace("%", "%%") if "%" in placeholder else text).replace("?", placeholder)


QUERIES = Queries()


def filtered(head: str, clauses: Sequence[str], *tail: str) -> str:
    """A read: its head, the clauses that apply (joined by AND) and what follows."""
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return " ".join([head + where, *tail])


@functools.lru_cache(maxsize=128)
def update_entry(changed: tuple[int, ...], placeholder: str = "?") -> str:
    """The update of an entry's columns at these indexes of ENTRY_VALUES (those that
    changed: fewer index entries rewritten), with compare-and-set on its version."""
    assignments = "".join(f"{ENTRY_VALUES[i]} = {placeholder}, " for i in changed)
    return (
        f"UPDATE entries SET {assignments}version = version + 1 "
        f"WHERE id = {placeholder} AND version = {placeholder}"
    )
