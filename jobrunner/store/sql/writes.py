"""The commit of a Transition in an SQL store: every write in the caller's transaction,
with compare-and-set on entry and task versions (a row whose version moved on is not
written, and the whole transaction fails with StoreConflict).

`Memo` is what the store remembers of its own recent reads and writes, so that an
update writes only the columns that changed and an entry's task row is left alone when
it is what this store last wrote; versions are compare-and-set, so a version names one
set of columns, whoever wrote them.
"""

from __future__ import annotations

from typing import Any

from jobrunner import model
from jobrunner.store import StoreConflict, codec, entrytask
from jobrunner.store.sql import queries, rows
from jobrunner.store.sql.dialect import Connection, Dialect

TASKS_KEPT = 1024  # entries whose task row a store remembers writing
ROWS_KEPT = 1024  # entries whose columns a store remembers reading or writing
_ALL_VALUES = tuple(range(len(queries.ENTRY_VALUES)))


class Memo:
    def __init__(self) -> None:
        # entry id -> (its version as this store last wrote it, the task row written then)
        self.tasks: dict[str, tuple[int, tuple[Any, ...] | None]] = {}
        # entry id -> (a version, the entry's ENTRY_VALUES at that version)
        self.rows: dict[str, tuple[int, tuple[Any, ...]]] = {}
        # what the transaction in progress writes (None: the entry goes)
        self._tasks: dict[str, tuple[int, tuple[Any, ...] | None] | None] = {}
        self._rows: dict[str, tuple[int, tuple[Any, ...]] | None] = {}

    def begin(self, t: model.Transition) -> None:
        """A transaction starts writing `t` (nothing is known of it until `settle`)."""
        self._tasks = {key: None for key, _ in t.delete}
        self._rows = {key: None for key, _ in t.delete}

    def writing(
        self, entry_id: str, values: tuple[int, tuple[Any, ...]], task: tuple[int, Any]
    ) -> None:
        """The transaction writes this version of the entry's columns and task row."""
        self._rows[entry_id] = values
        self._tasks[entry_id] = task

    def settle(self) -> None:
        """It committed: what it wrote becomes what this store knows."""
        _settle(self.tasks, self._tasks, TASKS_KEPT)
        _settle(self.rows, self._rows, ROWS_KEPT)

    def read(self, found: list[Any], reader: rows.EntryReader) -> None:
        """Entry rows read: remembered when a single one was read, or one known already."""
        one, known, key, version = len(found) == 1, self.rows, reader.id, reader.version
        for r in found:
            if one or r[key] in known:
                known[r[key]] = (r[version], reader.values(r))


def _settle(known: dict[str, Any], written: dict[str, Any], kept: int) -> None:
    """Only recent writes matter (the runs in process): an overgrown memory starts over,
    and of a transaction larger than the memory (a first reconcile) only its deletes
    count."""
    if len(known) > kept:
        known.clear()
    large = len(written) > kept
    for key, value in written.items():
        if value is None:
            known.pop(key, None)
        elif not large:
            known[key] = value


def write(db: Connection, dialect: Dialect, memo: Memo, t: model.Transition) -> list[int]:
    """Every write of `t` on `db`, in a transaction the caller holds; the numbers
    given to its `log_insert` rows."""
    q = dialect.queries
    memo.begin(t)
    if t.revision is not None:  # first: of reconciles at once, one goes on, others conflict
        moved = db.execute(q.move_revision, (t.revision.to, t.revision.expected or ""))
        if moved.rowcount != 1:
            raise StoreConflict("the store's revision of the job files changed since it was read")
    for key, version in t.delete:
        _delete(db, q.delete_entry, "entry", key, version)
        db.execute(q.drop_task, (entrytask.removed(key),))  # its task goes too
    _insert_entries(db, dialect, memo, [e for e in t.put if e.version == 0])
    for entry in t.put:
        if entry.version:
            _update_entry(db, dialect, memo, entry)
    numbers = [
        dialect.inserted_id(db.execute(q.insert_log, rows.log_values(g))) for g in t.log_insert
    ]
    for log in t.log_update:
        if db.execute(q.update_log, (*rows.log_values(log), log.entry_no)).rowcount != 1:
            raise StoreConflict(f"log entry {log.entry_no} does not exist")
    _many(db, q.insert_event, [rows.event_values(e) for e in t.events])
    for key, version in t.task_delete:
        _delete(db, q.delete_task, "task", key, version)
    for task in t.task_put:
        _put_task(db, dialect, task)
    _many(db, q.delete_pause, [(rows.scope(c),) for c in t.pause_delete])
    _many(db, q.put_pause, [rows.pause_values(p) for p in t.pause_put])
    return numbers


def _many(db: Connection, sql: str, values: list[Any]) -> None:
    if values:  # (an executemany of nothing still runs its statement)
        db.executemany(sql, values)


def _delete(db: Connection, sql: str, kind: str, key: str, version: int) -> None:
    if db.execute(sql, (key, version)).rowcount != 1:
        raise StoreConflict(f"{kind} {key!r} changed since it was read")


def _insert_entries(
    db: Connection, dialect: Dialect, memo: Memo, entries: list[model.Entry]
) -> None:
    """New entries, numbered in order, with their tasks: a few statements for any
    number of them (a first reconcile adds thousands)."""
    if not entries:
        return
    q = dialect.queries
    (last,) = db.execute(q.take_entry_numbers, (len(entries),)).fetchone()
    first = last - len(entries) + 1
    added, tasks, no_tasks = [], [], []
    for number, e in enumerate(entries, first):
        codec.remember(e.spec)
        backing = entrytask.of(e, number)
        values = rows.entry_values(e, backing.task)
        added.append((e.id, number, *values))
        row = rows.entry_task_row(backing)
        memo.writing(e.id, (1, values), (1, row))
        if row is None:
            no_tasks.append((backing.task_id,))
        else:
            tasks.append(row)
    _many(db, q.drop_task, no_tasks)
    _many(db, q.put_entry_task, tasks)
    try:
        with dialect.savepoint(db):
            db.executemany(q.insert_entry, added)
    except dialect.unique_violation:
        # the rows before the one refused went in (their numbers are this batch's)
        (done,) = db.execute(q.entries_numbered_after, (first - 1,)).fetchone()
        raise StoreConflict(f"entry {added[done][0]!r} already exists") from None


def _update_entry(db: Connection, dialect: Dialect, memo: Memo, e: model.Entry) -> None:
    codec.remember(e.spec)
    backing = entrytask.of(e, e.entry_no)
    values = rows.entry_values(e, backing.task)
    known = memo.rows.get(e.id)
    if known is not None and known[0] == e.version:
        pairs = enumerate(zip(known[1], values, strict=True))
        changed = tuple(i for i, (was, now) in pairs if was != now)
    else:
        changed = _ALL_VALUES
    sql = queries.update_entry(changed, dialect.queries.placeholder)
    cur = db.execute(sql, (*(values[i] for i in changed), e.id, e.version))
    row = rows.entry_task_row(backing)
    memo.writing(e.id, (e.version + 1, values), (e.version + 1, row))
    if cur.rowcount != 1:
        raise StoreConflict(f"entry {e.id!r} changed since it was read")
    # The task follows the entry (no compare-and-set of its own). When this store wrote
    # the entry's version before this write with the same task row, the row is left as
    # it is (a write saved).
    if memo.tasks.get(e.id) == (e.version, row):
        return
    if row is None:
        db.execute(dialect.queries.drop_task, (backing.task_id,))
    else:
        db.execute(dialect.queries.put_entry_task, row)


def _put_task(db: Connection, dialect: Dialect, t: model.Task) -> None:
    q = dialect.queries
    values = rows.task_values(t)
    if t.version == 0:
        try:
            db.execute(q.insert_task, (t.id, *values))
        except dialect.unique_violation:
            raise StoreConflict(f"task {t.id!r} already exists") from None
        return
    if db.execute(q.update_task, (*values, t.id, t.version)).rowcount != 1:
        raise StoreConflict(f"task {t.id!r} changed since it was read")
