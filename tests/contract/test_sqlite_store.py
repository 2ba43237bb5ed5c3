"""SQLite-only facts: persistence across reopen, WAL, the schema version."""

from __future__ import annotations

import dataclasses
import sqlite3

import pytest

from jobrunner import model
from jobrunner.store import sqlite as sqlite_store
from jobrunner.testing import utc
from tests.contract.test_store import entry

UNDO_6 = (
    "ALTER TABLE entries DROP COLUMN revision; DROP TABLE store_revision; "
    "DROP INDEX entries_source; CREATE INDEX entries_source ON entries (source, stamp); "
)
"""Back from schema version 6 (the revisions of job files) to 5."""


def test_persists_across_reopen(tmp_path):
    path = tmp_path / "s.sqlite3"
    first = sqlite_store.SqliteStore(path)
    first.commit(
        model.Transition(
            reason="t",
            put=(entry("a"),),
            log_insert=(model.LogEntry(entry_id="a", start_at=utc(2026, 1, 1)),),
        )
    )
    first.close()
    again = sqlite_store.SqliteStore(path)
    assert again.get_entry("a").id == "a"
    assert len(again.list_log()) == 1
    again.close()


def test_wal_and_schema_version(tmp_path):
    store = sqlite_store.SqliteStore(tmp_path / "s.sqlite3")
    assert store.schema_version == sqlite_store.LATEST
    mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    store.close()


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "s.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {sqlite_store.LATEST + 1}")
    db.close()
    with pytest.raises(sqlite_store.NewerStateFile, match="Upgrade jobrunner"):
        sqlite_store.SqliteStore(path)


def test_second_connection_sees_commits(tmp_path):
    path = tmp_path / "s.sqlite3"
    writer, reader = sqlite_store.SqliteStore(path), sqlite_store.SqliteStore(path)
    writer.commit(model.Transition(reason="t", put=(entry("a"),)))
    assert reader.get_entry("a") is not None
    writer.close()
    reader.close()


def test_a_durable_commit_after_a_non_durable_one_is_synced_in_full(tmp_path):
    store = sqlite_store.SqliteStore(tmp_path / "s.sqlite3")

    def synchronous() -> int:
        return int(store._db.execute("PRAGMA synchronous").fetchone()[0])

    assert synchronous() == 2  # FULL
    store.commit(model.Transition(reason="t", put=(entry("a"),)), durable=False)
    assert synchronous() == 1  # NORMAL: no fsync of its own
    store.commit(model.Transition(reason="t", put=(entry("b"),)), durable=False)
    assert synchronous() == 1
    store.commit(model.Transition(reason="t", put=(entry("c"),)))
    assert synchronous() == 2
    store.close()


def test_sync_after_non_durable_commits_keeps_them_for_another_connection(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path)
    store.sync()  # nothing written yet: no WAL to sync
    for name in "abc":
        store.commit(model.Transition(reason="t", put=(entry(name),)), durable=False)
    store.sync()
    other = sqlite_store.SqliteStore(path)
    assert [e.id for e in other.list_entries()] == ["a", "b", "c"]
    other.close()
    store.close()


def test_a_version_1_file_is_migrated_with_the_queue_order_kept(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path)
    store.commit(
        model.Transition(
            reason="t",
            put=(entry("low", priority="low"), entry("high", priority="high"), entry("plain")),
        )
    )
    store.close()
    db = sqlite3.connect(path)  # back to the version 1 layout
    db.executescript(
        f"{UNDO_6}DROP INDEX tasks_queue; ALTER TABLE tasks DROP COLUMN rank; "
        "ALTER TABLE tasks DROP COLUMN seq; ALTER TABLE tasks DROP COLUMN runner_id; "
        "CREATE INDEX tasks_due ON tasks (ready, session_id, not_before); "
        "ALTER TABLE entries DROP COLUMN requests; DROP TABLE pauses; PRAGMA user_version = 1;"
    )
    db.close()
    again = sqlite_store.SqliteStore(path)
    assert again.schema_version == sqlite_store.LATEST
    due = again.due_tasks(utc(2030, 1, 1), 10)
    assert [t.entry_id for t in due] == ["high", "plain", "low"]
    ranks = dict(again._db.execute("SELECT entry_id, rank FROM tasks").fetchall())
    assert ranks == {"high": 1000, "plain": 2000, "low": 3000}
    again.close()


def test_an_entry_task_written_by_another_connection_is_not_taken_for_ours(tmp_path):
    path = tmp_path / "s.sqlite3"
    runner, other = sqlite_store.SqliteStore(path), sqlite_store.SqliteStore(path)
    runner.commit(model.Transition(reason="t", put=(entry("a"),)))
    held = dataclasses.replace(other.get_entry("a"), status=model.EntryStatus.ON_HOLD)
    other.commit(model.Transition(reason="t", put=(held,)))
    assert runner.list_tasks() == []  # on hold: no task
    ready = dataclasses.replace(runner.get_entry("a"), status=model.EntryStatus.READY)
    runner.commit(model.Transition(reason="t", put=(ready,)))
    (task,) = runner.list_tasks()
    assert task.entry_id == "a"
    again = dataclasses.replace(runner.get_entry("a"), session_pid=123)  # task row unchanged
    runner.commit(model.Transition(reason="t", put=(again,)))
    assert [t.entry_id for t in other.list_tasks()] == ["a"]
    runner.close()
    other.close()


def _updates(store) -> list[str]:
    seen: list[str] = []
    store._db.set_trace_callback(
        lambda sql: seen.append(sql) if sql.startswith("UPDATE entries") else None
    )
    return seen


def test_an_update_writes_only_the_columns_that_changed(tmp_path):
    store = sqlite_store.SqliteStore(tmp_path / "s.sqlite3")
    store.commit(model.Transition(reason="t", put=(entry("a"),)))
    a = store.get_entry("a")
    seen = _updates(store)
    started = dataclasses.replace(a, status=model.EntryStatus.IN_PROCESS, session_id="s1")
    store.commit(model.Transition(reason="t", put=(started,)))
    (update,) = seen
    assert "status = 'in_process'" in update
    assert "session_id = 's1'" in update
    assert "definition" not in update  # nor the other columns that stayed as they were
    assert store.get_entry("a") == dataclasses.replace(started, version=2)
    store.close()


def test_an_entry_recreated_elsewhere_is_updated_from_what_was_read_of_it(tmp_path):
    """Versions restart when an entry is deleted and added again (here by another
    process): what this store remembers of the old one must not shape the write."""
    path = tmp_path / "s.sqlite3"
    runner, other = sqlite_store.SqliteStore(path), sqlite_store.SqliteStore(path)
    runner.commit(model.Transition(reason="t", put=(entry("a"), entry("b"))))
    first = runner.get_entry("a")
    runner.commit(model.Transition(reason="t", put=(dataclasses.replace(first, attempts=2),)))
    # remembered: version 2 with attempts 2; now the entry is removed and added again
    other.commit(model.Transition(reason="t", delete=(("a", 2),)))
    other.commit(model.Transition(reason="t", put=(entry("a", category="CRM"),)))
    again = other.get_entry("a")
    other.commit(model.Transition(reason="t", put=(dataclasses.replace(again, attempts=1),)))
    (new,) = [e for e in runner.list_entries() if e.id == "a"]  # read with others
    assert (new.version, new.attempts) == (2, 1)
    runner.commit(model.Transition(reason="t", put=(dataclasses.replace(new, attempts=2),)))
    last = other.get_entry("a")
    assert last.attempts == 2  # not skipped as "unchanged" from the old one's columns
    assert last.spec.category == "CRM"
    runner.close()
    other.close()


def _wal_pages(path) -> int:
    """The pages a WAL file holds (from its size: right for one never restarted)."""
    wal = path.with_name(path.name + "-wal")
    return (wal.stat().st_size - 32) // (4096 + 24) if wal.exists() else 0


def _fill_wal(store, pages: int) -> int:
    """Commit log entries until the WAL file holds `pages` pages or 3,000 were committed;
    the pages it holds."""
    for _ in range(3000):
        log = model.LogEntry(entry_id="a", start_at=utc(2026, 1, 1), output="x" * 6000)
        store.commit(model.Transition(reason="t", log_insert=(log,)), durable=False)
        if _wal_pages(store.path) >= pages:
            break
    return _wal_pages(store.path)


def _frames(path) -> tuple[int, int]:
    """What SQLite counts in the WAL (all frames, those in the database), from a
    checkpoint of another connection."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        busy, frames, copied = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        other.close()
    assert busy == 0
    return frames, copied


def test_a_store_left_to_background_checkpoints_does_not_checkpoint_in_its_commits(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path, background_checkpoints=True)
    limit = sqlite_store.CHECKPOINT_PAGES
    assert _fill_wal(store, limit + 100) >= limit + 100  # past SQLite's own threshold
    assert store.checkpoint()  # (from any thread; tested here from this one)
    assert store.wal_backlog() == 0
    assert not store.checkpoint()  # nothing left to copy
    assert not store.checkpoint(pages=1)
    reader = sqlite_store.SqliteStore(path)
    assert len(reader.list_log()) > 100
    reader.close()
    store.close()


def test_the_wal_backlog_follows_what_sqlite_counts(tmp_path):
    """The backlog is counted from the store's own commits, scaled by what each
    checkpoint reports: no read of SQLite's files."""
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path, background_checkpoints=True)
    _fill_wal(store, 400)
    assert store.checkpoint(pages=0)  # learns how many pages the commits wrote
    frames, copied = _frames(path)
    assert frames == copied
    for _ in range(3):
        _fill_wal(store, _wal_pages(path) + 300)
        estimate = store.wal_backlog()
        frames, copied = _frames(path)  # (copies them: the next round starts afresh)
        assert frames - copied == 0
        # the WAL restarted after the last full checkpoint: what it holds is the backlog
        assert frames / 2 <= estimate <= frames * 2
        assert store.checkpoint(pages=0)
    store.close()


def test_a_plain_store_checkpoints_in_its_commits_as_sqlite_does(tmp_path):
    store = sqlite_store.SqliteStore(tmp_path / "s.sqlite3")
    # the commit that takes it past the threshold copies it, the next restarts the WAL
    assert _fill_wal(store, 3 * sqlite_store.CHECKPOINT_PAGES) < sqlite_store.CHECKPOINT_PAGES + 50
    store.close()


def _locks_held(path) -> int:
    """POSIX locks this process holds on the file at `path` (from /proc/locks)."""
    inode = path.stat().st_ino
    mine = str(__import__("os").getpid())
    count = 0
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            if "->" in fields:  # a waiter, not a holder
                continue
            if fields[1] == "POSIX" and fields[4] == mine and fields[5].endswith(f":{inode}"):
                count += 1
    return count


def test_the_store_never_drops_sqlites_locks(tmp_path):
    """Closing any descriptor of a file drops every POSIX lock the process holds on it,
    SQLite's too: then another process rebuilds the WAL index under this one (SIGBUS).
    The store's own reads of the WAL's size, its syncs and checkpoints keep them."""
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path, background_checkpoints=True)
    _fill_wal(store, sqlite_store.CHECKPOINT_PAGES + 10)
    shm = tmp_path / "s.sqlite3-shm"
    held = _locks_held(shm), _locks_held(path)
    assert held[0] > 0  # the WAL index's dead-man switch, at least
    store.wal_backlog()
    store.sync()
    assert store.checkpoint()
    assert (_locks_held(shm), _locks_held(path)) == held
    store.close()


def test_a_version_3_file_is_migrated_and_pauses_and_requests_persist(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path)
    store.commit(model.Transition(reason="t", put=(entry("a"),)))
    store.close()
    db = sqlite3.connect(path)  # back to the version 3 layout
    db.executescript(
        f"{UNDO_6}ALTER TABLE entries DROP COLUMN requests; DROP TABLE pauses; "
        "ALTER TABLE tasks DROP COLUMN runner_id; PRAGMA user_version = 3;"
    )
    db.close()
    again = sqlite_store.SqliteStore(path)
    assert again.schema_version == sqlite_store.LATEST
    stored = again.get_entry("a")
    assert (stored.trigger, stored.cancel) == (None, "")
    when = utc(2026, 1, 1)
    trigger = model.Trigger(by="alice", at=when, status=model.EntryStatus.ON_HOLD)
    again.commit(
        model.Transition(
            reason="t",
            put=(dataclasses.replace(stored, trigger=trigger),),
            pause_put=(model.Pause(category="CRM", by="bob", at=when),),
        )
    )
    again.close()
    reopened = sqlite_store.SqliteStore(path)
    assert reopened.get_entry("a").trigger == trigger
    assert reopened.pauses() == [model.Pause(category="CRM", by="bob", at=when)]
    reopened.close()


def test_a_version_5_file_is_migrated_with_no_revisions(tmp_path):
    path = tmp_path / "s.sqlite3"
    store = sqlite_store.SqliteStore(path)
    store.commit(model.Transition(reason="t", put=(entry("a"),)))
    store.close()
    db = sqlite3.connect(path)  # back to the version 5 layout
    db.executescript(f"{UNDO_6}ALTER TABLE tasks DROP COLUMN runner_id; PRAGMA user_version = 5;")
    db.close()
    again = sqlite_store.SqliteStore(path)
    assert again.schema_version == sqlite_store.LATEST
    assert (again.get_entry("a").spec.revision, again.revision()) == (None, None)
    again.commit(model.Transition(reason="t", revision=model.RevisionMove(expected=None, to="3")))
    assert again.revision() == "3"
    again.close()
